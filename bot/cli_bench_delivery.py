"""`switchboard bench` for message delivery: the ack path, the pipeline, memory and alerts."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_bench_common import (
    Mode,
    app,
    err,
    figures_table,
    modes,
    out,
    print_figures,
    print_json,
    ratio,
    ratio_text,
    steps,
)


@app.command()
def ingest(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.both,
    rate: Annotated[float, typer.Option(help="Steady request rate for the latency run.")] = 500.0,
    seconds: Annotated[float, typer.Option(help="Length of each load phase.")] = 10.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight for the maximum.")] = 32,
    route: Annotated[
        list[str] | None,
        typer.Option(help="Routes to load: slack (signed Events API), webchat. Default both."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The ack path (verify, parse, durable inbox, enqueue, 200) beside a bare endpoint.

    Prints the maximum requests/s, p50/p99 ack latency at a steady rate, and the ratio of the
    route's maximum to the bare endpoint's (same framework, same server flags).
    """
    from benchmarks import ingest as bench

    targets = tuple(route or ("slack", "webchat"))
    unknown = sorted(set(targets) - {"slack", "webchat"})
    if unknown:
        err.print(f"Unknown route {', '.join(unknown)}: choose slack or webchat.")
        raise typer.Exit(2)
    with err.status("starting") as status:
        figures = bench.run(
            modes(mode),
            rate=rate,
            seconds=seconds,
            concurrency=concurrency,
            targets=targets,
            progress=lambda msg: status.update(f"measuring: {msg}"),
        )
    bare = next(f for f in figures if f.target == "bare")
    if as_json:
        for f in figures:
            print_json({**f.as_dict(), "ratio_to_bare": ratio(f.max_rate, bare.max_rate, 3)})
        return
    table = figures_table(
        f"Ack path: steady {rate:g} req/s for {seconds:g} s, max with {concurrency} in flight",
        (
            "route",
            "mode",
            "max req/s",
            "ratio",
            "steady req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "errors",
            "web RSS MB",
        ),
        left=("route", "mode"),
    )
    for f in figures:
        table.add_row(
            f.target,
            f.mode,
            f"{f.max_rate:,.0f}",
            ratio_text(f.max_rate, bare.max_rate),
            f"{f.steady_rate:,.0f}",
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            f"{f.max_ms:.1f}",
            str(sum(f.errors.values())),
            f"{f.rss_mb:.0f}",
        )
    print_figures(
        table,
        "Targets: ack p99 ≤ 50 ms at a steady 500 req/s; ratio to bare ≥ 0.35 for Slack in "
        "the scaled web role, ≥ 0.2 embedded.",
    )


@app.command()
def pipeline(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.both,
    messages: Annotated[int, typer.Option(help="Messages in the throughput burst.")] = 2000,
    rate: Annotated[float, typer.Option(help="Steady rate for the latency run.")] = 50.0,
    seconds: Annotated[float, typer.Option(help="Length of the latency run.")] = 20.0,
    workers: Annotated[int, typer.Option(help="Worker processes in the scaled mode.")] = 2,
    rounds: Annotated[
        int,
        typer.Option(
            min=1,
            help="Rounds of bare reference then each mode; with more than one, the median "
            "ratio of each mode is reported beside its lowest and highest.",
        ),
    ] = 1,
    history: Annotated[
        int,
        typer.Option(
            min=0,
            help="Past conversations written into each deployment's database first (a year "
            "old: a contact, a closed incident, its inbox row and two sent replies each), so "
            "the figures are those of a desk that has run for a while.",
        ),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Messages/s from ingest to the reply leaving for the platform, latency, memory.

    The scaled mode runs 1 web and `--workers` worker processes on PostgreSQL and Redis.

    A shared machine's speed drifts between runs: each round measures its own reference first.
    """
    from benchmarks import pipeline as bench

    measured: list[tuple[int, float, list[bench.PipelineFigures]]] = []
    names = modes(mode)
    per_round = 1 + len(names)
    with steps() as step:
        for n in range(1, rounds + 1):
            done = (n - 1) * per_round
            step(f"round {n}: the bare endpoint (the reference)", done, rounds * per_round)
            bare = bench.bare_rate()
            results = []
            for i, m in enumerate(names, start=1):
                step(f"round {n}: the {m} pipeline", done + i, rounds * per_round)
                results.append(
                    bench.run_mode(
                        m,
                        messages=messages,
                        rate=rate,
                        seconds=seconds,
                        workers=workers,
                        history=history,
                    )
                )
            measured.append((n, bare, results))
    spread = {
        m: bench.ratio_spread(
            [r.throughput / ref for _, ref, rs in measured for r in rs if r.mode == m]
        )
        for m in names
    }
    if as_json:
        for n, bare, results in measured:
            extra: dict[str, object] = {"round": n} if rounds > 1 else {}
            if history:
                extra["history"] = history
            print_json({"mode": "bare", "requests_per_s": round(bare, 1), **extra})
            for r in results:
                print_json({**r.as_dict(), "ratio_to_bare": ratio(r.throughput, bare, 4), **extra})
        if rounds > 1:
            for m, (low, median, high) in spread.items():
                print_json(
                    {
                        "mode": m,
                        "rounds": rounds,
                        "ratio_median": round(median, 4),
                        "ratio_min": round(low, 4),
                        "ratio_max": round(high, 4),
                    }
                )
        return
    table = figures_table(
        f"Pipeline: {messages} messages burst; latency at {rate:g} msg/s"
        + (f"; after {history:,} past conversations" if history else ""),
        (
            "mode",
            "messages/s",
            "ratio",
            "p50 ms",
            "p95 ms",
            "API p99/max ms in the burst",
            "resident memory (MB)",
        ),
        left=("mode", "resident memory (MB)"),
    )
    for n, bare, results in measured:
        tag = f" (round {n})" if rounds > 1 else ""
        table.add_row(f"bare (reference){tag}", f"{bare:,.0f}", "1", "-", "-", "-", "-")
        for r in results:
            rss = ", ".join(f"{k} {v:.0f}" for k, v in r.rss_mb.items())
            table.add_row(
                f"{r.mode}{tag}",
                f"{r.throughput:,.0f}",
                ratio_text(r.throughput, bare, ".3f"),
                f"{r.p50_ms:.0f}",
                f"{r.p95_ms:.0f}",
                f"{r.api_p99_ms:.0f} / {r.api_max_ms:.0f}",
                rss,
            )
    if rounds > 1:
        for m, (low, median, high) in spread.items():
            table.add_row(
                f"{m}: median of {rounds}",
                "-",
                f"{median:.3f} ({low:.3f}–{high:.3f})",
                "-",
                "-",
                "-",
                "-",
            )
    print_figures(
        table,
        "Targets: ratio to bare ≥ 0.06 embedded, ≥ 0.10 scaled; p95 ≤ 300 ms at 50 msg/s; "
        "API during the burst p99 ≤ 100 ms, max ≤ 1 s; web ≤ 100 MB, worker with the model "
        "≤ 150 MB.",
    )


@app.command()
def profile(
    mode: Annotated[Mode, typer.Option(help="Which deployment to profile.")] = Mode.embedded,
    messages: Annotated[int, typer.Option(help="Messages in the burst.")] = 3000,
    rate: Annotated[int, typer.Option(help="py-spy samples per second.")] = 250,
    workers: Annotated[int, typer.Option(help="Worker processes in the scaled mode.")] = 2,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Directory for the raw profiles (default: a new temporary one)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Where each process's CPU goes during a burst: py-spy, charged to libraries.

    Needs py-spy (`pip install py-spy`) and the right to trace other processes.

    Only samples holding the GIL count. The database layer is SQLAlchemy, the driver, `store/`.

    The layer's samples are also parted by kind of work, with its share without the ORM's.

    Each process's CPU time (from the OS) is printed beside its sampled time.

    The embedded process is given a core of its own while it is sampled.
    """
    from benchmarks import profile_burst as bench

    folder = directory or Path(tempfile.mkdtemp(prefix="switchboard-profile-"))
    results: list[bench.ProcessProfile] = []
    try:
        with err.status("starting") as status:
            for m in modes(mode):
                status.update(f"profiling the {m} deployment")
                results += bench.run_mode(
                    m,
                    messages=messages,
                    rate=rate,
                    out=folder,
                    workers=workers,
                    step=status.update,
                )
    except bench.ProfilerMissing as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    if as_json:
        for r in results:
            print_json(r.as_dict())
        return
    groups = Counter[str]()
    for r in results:
        groups.update({g: n / r.samples for g, n in r.groups.items()} if r.samples else {})
    table = figures_table(
        f"Share of each process's samples during a {messages}-message burst",
        ("library", *(f"{r.mode} {r.process}" for r in results)),
        left=("library",),
    )
    table.add_row("samples", *(str(r.samples) for r in results))
    table.add_row("sampled time, s", *(f"{r.sampled_seconds:.1f}" for r in results))
    table.add_row("CPU time (OS), s", *(f"{r.cpu_seconds:.1f}" for r in results))
    table.add_row("waiting for a core", *(f"{r.waiting_share:.0%}" for r in results))
    table.add_row("own core", *("yes" if r.own_core else "no" for r in results))
    table.add_row("database layer", *(f"{r.database_share:.1%}" for r in results), style="bold")
    for g, _ in groups.most_common():
        table.add_row(g, *(f"{r.share(g):.1%}" for r in results))
    print_figures(
        table,
        "Target: the database layer (SQLAlchemy, driver, store) under a third of the samples.",
        "Samples count a process preempted while holding the GIL: where it waited for a core "
        "(sampled time above its CPU time), the shares are partly that wait, charged mostly to "
        "the writes that woke the database or the client. The embedded process has a core of "
        "its own, so its shares are its CPU.",
        f"Raw profiles (py-spy's collapsed stacks): {folder}",
    )
    from benchmarks.profile_summary import KINDS, MAPPED, THROUGH_ORM

    kinds = figures_table(
        "The database layer's samples by the kind of work, as shares of all the samples",
        ("kind of work", *(f"{r.mode} {r.process}" for r in results)),
        left=("kind of work",),
    )
    for kind in (*KINDS, THROUGH_ORM):
        kinds.add_row(kind, *(f"{r.kind_share(kind):.1%}" for r in results))
    # The floors a hot path on plain rows could reach, nothing replacing what it drops.
    for gone, named in ((MAPPED, "the mapped objects' work"), (THROUGH_ORM, "the ORM's work")):
        kinds.add_row(
            f"the layer's share without {named}",
            *(f"{r.share_without(gone):.1%}" for r in results),
            style="bold",
        )
    out.print(kinds)
    for r in results:
        top = figures_table(
            f"{r.mode} {r.process}: top functions",
            ("function (where samples ended)", "share"),
            left=("function (where samples ended)",),
        )
        for name, n in r.functions:
            top.add_row(name, f"{n / r.samples:.1%}")
        out.print(top)


@app.command()
def memory(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.both,
    messages: Annotated[int, typer.Option(help="Messages sent after start-up.")] = 300,
    workers: Annotated[int, typer.Option(help="Worker processes in the scaled mode.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Resident memory of each process: once started, and after a burst of messages.

    Embedded is the one `serve` process; scaled is `web` and `--workers` × `worker`.
    """
    from benchmarks import memory as bench

    results: list[tuple[str, list[bench.RoleMemory]]] = []
    with err.status("starting") as status:
        for m in modes(mode):
            status.update(f"measuring the {m} processes")
            results.append((m, bench.run_mode(m, messages=messages, workers=workers)))
    if as_json:
        for m, roles in results:
            for r in roles:
                print_json({"mode": m, **r.as_dict()})
        return
    table = figures_table(
        f"Resident memory (MB): started, after {messages} messages, peak",
        ("mode", "process", "started", "after", "peak"),
        left=("mode", "process"),
    )
    for m, roles in results:
        for r in roles:
            table.add_row(m, r.role, f"{r.started_mb:.0f}", f"{r.after_mb:.0f}", f"{r.peak_mb:.0f}")
    print_figures(table, "Targets: web ≤ 100 MB, worker with the model ≤ 150 MB.")


@app.command()
def alerts(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.embedded,
    seconds: Annotated[float, typer.Option(help="Length of each ack load phase.")] = 10.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight for the ack.")] = 32,
    events: Annotated[int, typer.Option(help="Events in the correlation burst.")] = 10_000,
    workers: Annotated[int, typer.Option(help="Worker processes in the scaled mode.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Alert events/s accepted by POST /api/alerts, and how fast correlation drains a burst.

    The rate is measured beside a bare endpoint, so the ratio does not depend on the machine.
    """
    from benchmarks import alerts_bench as bench

    with err.status("starting") as status:
        acks = bench.ack(
            modes(mode),
            seconds=seconds,
            concurrency=concurrency,
            progress=lambda msg: status.update(f"measuring: {msg}"),
        )
        drains = []
        for m in modes(mode):
            status.update(f"draining {events} events, {m}")
            drains.append(bench.drain(m, events=events, workers=workers))
    bare = next(f for f in acks if f.target == "bare")
    if as_json:
        for f in acks:
            print_json(
                {**f.as_dict(), "ratio_to_bare": ratio(f.events_per_s, bare.events_per_s, 3)}
            )
        for d in drains:
            print_json(d.as_dict())
        return
    table = figures_table(
        f"Alert ack: as fast as answered, {concurrency} in flight, {seconds:g} s",
        ("route", "mode", "events/s", "ratio", "p50 ms", "p99 ms", "errors"),
        left=("route", "mode"),
    )
    for f in acks:
        table.add_row(
            f.target,
            f.mode,
            f"{f.events_per_s:,.0f}",
            ratio_text(f.events_per_s, bare.events_per_s),
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            str(sum(f.errors.values())),
        )
    print_figures(table)
    drained = figures_table(
        f"Correlation: a burst of {events} events in lists of {bench.BATCH}",
        ("mode", "accepted", "post s", "drain s", "events/s", "incidents", "dead"),
        left=("mode",),
    )
    for d in drains:
        row = d.as_dict()
        drained.add_row(
            d.mode,
            str(d.accepted),
            f"{d.post_seconds:.1f}",
            f"{d.drain_seconds:.1f}",
            f"{row['events_per_s'] or 0:,.0f}",
            str(d.incidents),
            str(d.dead),
        )
    print_figures(
        drained, "Targets: ack ratio to bare ≥ 0.2; a 10,000-event burst drained in ≤ 30 s."
    )
