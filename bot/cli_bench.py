"""`switchboard bench`: throughput and latency of the ack path and the whole pipeline.

Each command starts real processes on a throw-away database (SQLite for the embedded
mode; a new PostgreSQL database and Redis key prefix for the scaled mode), drives them with
a loopback load and prints the figures. Nothing here is asserted: these are measurements.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
# Tables are wide; don't squeeze them into 80 columns when output goes to a file or a pipe.
out = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True)


class Mode(StrEnum):
    """Which deployment a benchmark runs against: one process, web and workers apart, or each."""

    embedded = "embedded"
    scaled = "scaled"
    both = "both"


@contextmanager
def _steps() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar on stderr (when it is a terminal), moved by `step(what, done, total)`."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("starting", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total)

        yield step


def _modes(mode: Mode) -> list[str]:
    return ["embedded", "scaled"] if mode is Mode.both else [mode.value]


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
            _modes(mode),
            rate=rate,
            seconds=seconds,
            concurrency=concurrency,
            targets=targets,
            progress=lambda msg: status.update(f"measuring: {msg}"),
        )
    bare = next(f for f in figures if f.target == "bare")
    if as_json:
        for f in figures:
            row = f.as_dict()
            row["ratio_to_bare"] = round(f.max_rate / bare.max_rate, 3) if bare.max_rate else None
            out.print(json.dumps(row), highlight=False, soft_wrap=True)
        return
    table = Table(
        title=f"Ack path: steady {rate:g} req/s for {seconds:g} s, max with {concurrency} in flight"
    )
    for col in (
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
    ):
        table.add_column(col, justify="right" if col not in ("route", "mode") else "left")
    for f in figures:
        ratio = f"{f.max_rate / bare.max_rate:.2f}" if bare.max_rate else "-"
        table.add_row(
            f.target,
            f.mode,
            f"{f.max_rate:,.0f}",
            ratio,
            f"{f.steady_rate:,.0f}",
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            f"{f.max_ms:.1f}",
            str(sum(f.errors.values())),
            f"{f.rss_mb:.0f}",
        )
    out.print(table)
    out.print(
        "Targets: ack p99 ≤ 50 ms at a steady 500 req/s; ratio to bare ≥ 0.35 for Slack in "
        "the scaled web role, ≥ 0.2 embedded."
    )


@app.command()
def pipeline(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.both,
    messages: Annotated[int, typer.Option(help="Messages in the throughput burst.")] = 2000,
    rate: Annotated[float, typer.Option(help="Steady rate for the latency run.")] = 50.0,
    seconds: Annotated[float, typer.Option(help="Length of the latency run.")] = 20.0,
    workers: Annotated[int, typer.Option(help="Worker processes in the scaled mode.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Messages/s from ingest to the reply leaving for the platform, latency, memory.

    The scaled mode runs 1 web and `--workers` worker processes on PostgreSQL and Redis.
    """
    from benchmarks import pipeline as bench

    results = []
    with err.status("starting") as status:
        status.update("measuring the bare endpoint (the reference)")
        bare = bench.bare_rate()
        for m in _modes(mode):
            status.update(f"measuring the {m} pipeline")
            results.append(
                bench.run_mode(m, messages=messages, rate=rate, seconds=seconds, workers=workers)
            )
    if as_json:
        out.print(
            json.dumps({"mode": "bare", "requests_per_s": round(bare, 1)}),
            highlight=False,
            soft_wrap=True,
        )
        for r in results:
            row = r.as_dict()
            row["ratio_to_bare"] = round(r.throughput / bare, 4) if bare else None
            out.print(json.dumps(row), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Pipeline: {messages} messages burst; latency at {rate:g} msg/s")
    cols = (
        "mode",
        "messages/s",
        "ratio",
        "p50 ms",
        "p95 ms",
        "API p99/max ms in the burst",
        "resident memory (MB)",
    )
    for col in cols:
        table.add_column(
            col, justify="left" if col in ("mode", "resident memory (MB)") else "right"
        )
    table.add_row("bare (reference)", f"{bare:,.0f}", "1", "-", "-", "-", "-")
    for r in results:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.rss_mb.items())
        ratio = f"{r.throughput / bare:.3f}" if bare else "-"
        table.add_row(
            r.mode,
            f"{r.throughput:,.0f}",
            ratio,
            f"{r.p50_ms:.0f}",
            f"{r.p95_ms:.0f}",
            f"{r.api_p99_ms:.0f} / {r.api_max_ms:.0f}",
            rss,
        )
    out.print(table)
    out.print(
        "Targets: ratio to bare ≥ 0.06 embedded, ≥ 0.10 scaled; p95 ≤ 300 ms at 50 msg/s; "
        "API during the burst p99 ≤ 100 ms, max ≤ 1 s; web ≤ 100 MB, worker with the model "
        "≤ 150 MB."
    )


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
        for m in _modes(mode):
            status.update(f"measuring the {m} processes")
            results.append((m, bench.run_mode(m, messages=messages, workers=workers)))
    if as_json:
        for m, roles in results:
            for r in roles:
                out.print(json.dumps({"mode": m, **r.as_dict()}), highlight=False)
        return
    table = Table(title=f"Resident memory (MB): started, after {messages} messages, peak")
    for col in ("mode", "process", "started", "after", "peak"):
        table.add_column(col, justify="left" if col in ("mode", "process") else "right")
    for m, roles in results:
        for r in roles:
            table.add_row(m, r.role, f"{r.started_mb:.0f}", f"{r.after_mb:.0f}", f"{r.peak_mb:.0f}")
    out.print(table)
    out.print("Targets: web ≤ 100 MB, worker with the model ≤ 150 MB.")


@app.command()
def sla(
    tickets: Annotated[int, typer.Option(help="Open tickets in the big dataset.")] = 100_000,
    due: Annotated[int, typer.Option(help="Tickets with a warning due in the next minute.")] = 1000,
    ticks: Annotated[int, typer.Option(help="Wake-ups of that minute to measure.")] = 150,
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="Use PostgreSQL at $SWITCHBOARD_TEST_DATABASE_URL (a throw-away database).",
        ),
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(help="A PostgreSQL server URL to create the throw-away database on."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The service-level watcher: due times for every open ticket, and a tick's cost.

    Runs a reference with only the tickets due, then the big dataset, and prints the ratio of
    their median tick costs (a tick should not depend on how many tickets are open). Each
    tick is measured at every instant due and once a second, beside a bare write (read one
    ticket, change it, commit) on the same database in the same run.
    """
    from benchmarks import sla_bench as bench

    server = database_url or (bench.postgres_from_environment() if postgres else None)
    if postgres and server is None:
        err.print(f"--postgres needs {bench.PG_ENV} or --database-url")
        raise typer.Exit(2)
    with _steps() as step:
        figures = bench.run(tickets=tickets, due=due, ticks=ticks, postgres=server, step=step)
    reference, big = figures
    ratio = big.tick_p50_ms / reference.tick_p50_ms if reference.tick_p50_ms else None
    if as_json:
        for f in figures:
            row = f.as_dict()
            row["ratio_to_reference"] = round(ratio, 3) if ratio and f is big else None
            row["tick_to_bare_write"] = _per(f.tick_p50_ms, f.bare_write_ms)
            row["second_tick_to_bare_write"] = _per(f.second_tick_p50_ms, f.bare_write_ms)
            out.print(json.dumps(row), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"SLA watcher: {due} warnings due within one minute")
    for col in (
        "database",
        "open tickets",
        "compute s",
        "insert s",
        "idle tick ms",
        "ticks",
        "acted",
        "tick p50 ms",
        "tick p99 ms",
        "tick max ms",
        "1/s tick p50 ms",
        "1/s tick p99 ms",
        "bare write ms",
    ):
        table.add_column(col, justify="left" if col == "database" else "right")
    for f in figures:
        table.add_row(
            f.database,
            f"{f.open_tickets:,}",
            f"{f.compute_seconds:.2f}",
            f"{f.insert_seconds:.2f}",
            f"{f.idle_tick_ms:.1f}",
            str(f.ticks),
            str(f.tickets_acted),
            f"{f.tick_p50_ms:.1f}",
            f"{f.tick_p99_ms:.1f}",
            f"{f.tick_max_ms:.1f}",
            f"{f.second_tick_p50_ms:.1f}",
            f"{f.second_tick_p99_ms:.1f}",
            f"{f.bare_write_ms:.1f}",
        )
    out.print(table)
    shown = f"{ratio:.2f}" if ratio else "-"
    per_second = big.second_tickets_acted / big.second_ticks if big.second_ticks else 0
    out.print(
        f"Ratio of median tick, {big.open_tickets:,} open to {reference.open_tickets:,}: {shown}. "
        f"With {big.open_tickets:,} open, the median tick is "
        f"{_per(big.tick_p50_ms, big.bare_write_ms)} bare writes and the once-a-second tick "
        f"(about {per_second:.0f} tickets) {_per(big.second_tick_p50_ms, big.bare_write_ms)}. "
        "Target: a tick under 50 ms, independent of the number of open tickets."
    )


def _per(ms: float, unit: float) -> float | None:
    """`ms` in units of `unit` (a reference measured in the same run), or None."""
    return round(ms / unit, 1) if unit else None


@app.command()
def cmdb(
    items: Annotated[int, typer.Option(help="Configuration items to generate.")] = 50_000,
    links: Annotated[int, typer.Option(help="depends_on relationships to generate.")] = 200_000,
    max_dependents: Annotated[int, typer.Option(help="Most direct dependents of one item.")] = 20,
    samples: Annotated[int, typer.Option(help="Random items whose impact is measured.")] = 300,
    database_url: Annotated[
        str | None, typer.Option(help="Measure on this database (default: a temporary SQLite).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Impact analysis of a random item on a generated configuration database.

    Beside it, in the same run, the reference: one indexed lookup of an item by name.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from benchmarks import cmdb_bench as bench

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def step(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total)
            progress.update(tasks[task], completed=done, total=total)

        figures = bench.run(
            items=items,
            links=links,
            max_dependents=max_dependents,
            samples=samples,
            database_url=database_url,
            step=step,
        )
    if as_json:
        out.print(json.dumps(figures.as_dict()), highlight=False, soft_wrap=True)
        return
    table = Table(
        title=f"Impact analysis: {figures.items:,} items, {figures.links:,} links "
        f"(≤ {figures.max_dependents} direct dependents, longest chain {figures.longest_path}), "
        f"{figures.samples} random items, {figures.database}"
    )
    for col in ("measure", "p50 ms", "p95 ms", "max ms"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    table.add_row(
        "impact (lookup + walk + services + incidents)",
        f"{figures.impact_p50_ms:.2f}",
        f"{figures.impact_p95_ms:.2f}",
        f"{figures.impact_max_ms:.2f}",
    )
    table.add_row(
        "reference: one indexed lookup by name",
        f"{figures.lookup_p50_ms:.2f}",
        f"{figures.lookup_p95_ms:.2f}",
        "",
    )
    out.print(table)
    out.print(
        f"p95 ratio impact / lookup: {figures.ratio_p95:g}; services listed (median) "
        f"{figures.services_listed_median:g}, most reached {figures.services_total_max:,}; "
        f"generated in {figures.generate_seconds:.1f} s, loaded in {figures.load_seconds:.1f} s."
    )
    out.print("Target: impact p95 < 50 ms.")


@app.command()
def kb(
    articles: Annotated[int, typer.Option(help="Generated articles to index.")] = 10_000,
    queries: Annotated[int, typer.Option(help="Search queries to time.")] = 500,
    postgres: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server URL whose user may create databases; "
            "measures on a throw-away database there instead of SQLite."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Knowledge search p50/p95 over generated articles, beside a lookup by slug."""
    from benchmarks import kb_bench as bench

    with err.status("starting") as status:
        f = bench.run(
            n_articles=articles,
            n_queries=queries,
            postgres=postgres,
            progress=lambda msg: status.update(msg),
        )
    if as_json:
        out.print(json.dumps(f.as_dict()), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Knowledge search: {f.articles:,} articles, {f.queries:,} queries")
    for col in ("database", "index s", "search p50 ms", "search p95 ms", "slug p95 ms", "ratio"):
        table.add_column(col, justify="left" if col == "database" else "right")
    table.add_row(
        f.database,
        f"{f.index_seconds:.1f}",
        f"{f.search_p50_ms:.2f}",
        f"{f.search_p95_ms:.2f}",
        f"{f.slug_p95_ms:.3f}",
        f"{f.ratio:.1f}",
    )
    out.print(table)
    out.print("Target: search p95 under 20 ms at 10,000 articles.")


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
            _modes(mode),
            seconds=seconds,
            concurrency=concurrency,
            progress=lambda msg: status.update(f"measuring: {msg}"),
        )
        drains = []
        for m in _modes(mode):
            status.update(f"draining {events} events, {m}")
            drains.append(bench.drain(m, events=events, workers=workers))
    bare = next(f for f in acks if f.target == "bare")
    if as_json:
        for f in acks:
            row = f.as_dict()
            row["ratio_to_bare"] = (
                round(f.events_per_s / bare.events_per_s, 3) if bare.events_per_s else None
            )
            out.print(json.dumps(row), highlight=False, soft_wrap=True)
        for d in drains:
            out.print(json.dumps(d.as_dict()), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Alert ack: as fast as answered, {concurrency} in flight, {seconds:g} s")
    for col in ("route", "mode", "events/s", "ratio", "p50 ms", "p99 ms", "errors"):
        table.add_column(col, justify="left" if col in ("route", "mode") else "right")
    for f in acks:
        ratio = f"{f.events_per_s / bare.events_per_s:.2f}" if bare.events_per_s else "-"
        table.add_row(
            f.target,
            f.mode,
            f"{f.events_per_s:,.0f}",
            ratio,
            f"{f.p50_ms:.1f}",
            f"{f.p99_ms:.1f}",
            str(sum(f.errors.values())),
        )
    out.print(table)
    drained = Table(title=f"Correlation: a burst of {events} events in lists of {bench.BATCH}")
    for col in ("mode", "accepted", "post s", "drain s", "events/s", "incidents", "dead"):
        drained.add_column(col, justify="left" if col == "mode" else "right")
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
    out.print(drained)
    out.print("Targets: ack ratio to bare ≥ 0.2; a 10,000-event burst drained in ≤ 30 s.")


@app.command()
def console(
    tickets: Annotated[int, typer.Option(help="Tickets in the database (try 100000).")] = 20_000,
    open_share: Annotated[
        float, typer.Option(help="Share of them still open (0-1); the rest resolved or closed.")
    ] = 0.1,
    requests: Annotated[int, typer.Option(help="Queue page requests to time.")] = 200,
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres",
            help="Use PostgreSQL at $SWITCHBOARD_TEST_DATABASE_URL (a throw-away database).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """The agents' queue page (`/console`) with many tickets, beside a bare endpoint.

    Prints p50/p95 of the whole page (session, queries, template) and of `/healthz/live`
    measured in the same run. Target: the page under 100 ms p95 with 100,000 tickets.
    """
    from benchmarks import console_bench as bench

    if not 0 <= open_share <= 1 or tickets < 1 or requests < 1:
        err.print("--open-share is 0-1; --tickets and --requests are at least 1")
        raise typer.Exit(2)
    server = bench.postgres_from_environment() if postgres else None
    if postgres and server is None:
        err.print(f"--postgres needs {bench.PG_ENV}")
        raise typer.Exit(2)
    with _steps() as step:
        f = bench.run(
            tickets=tickets, open_share=open_share, requests=requests, postgres=server, step=step
        )
    if as_json:
        out.print(json.dumps(f.as_dict()), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Console queue page: {f.tickets:,} tickets, {f.open_tickets:,} open")
    for col in ("database", "requests", "page p50 ms", "page p95 ms", "page max ms"):
        table.add_column(col, justify="left" if col == "database" else "right")
    table.add_column("/healthz/live p50 ms", justify="right")
    table.add_column("/healthz/live p95 ms", justify="right")
    table.add_row(
        f.database,
        str(f.requests),
        f"{f.page_p50_ms:.1f}",
        f"{f.page_p95_ms:.1f}",
        f"{f.page_max_ms:.1f}",
        f"{f.reference_p50_ms:.2f}",
        f"{f.reference_p95_ms:.2f}",
    )
    out.print(table)
    out.print(
        f"Inserted in {f.insert_seconds:.1f} s; page {f.page_bytes:,} bytes. Target: p95 < 100 ms."
    )


@app.command("kb-quality")
def kb_quality(
    postgres: Annotated[
        str | None,
        typer.Option(
            help="A PostgreSQL server URL whose user may create databases; "
            "ranks on a throw-away database there instead of SQLite."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Knowledge search MRR on the labelled set (tests/data/kb) beside plain BM25."""
    from benchmarks import kb_quality as bench

    with err.status("starting") as status:
        f = bench.run(postgres=postgres, progress=lambda msg: status.update(msg))
    if as_json:
        out.print(json.dumps(f.as_dict(), ensure_ascii=False), highlight=False, soft_wrap=True)
        return
    table = Table(
        title=f"Knowledge search quality: {f.articles} articles, {f.queries} queries, MRR@{f.depth}"
    )
    for col in ("ranking", "database", "MRR", "MRR en", "MRR zh", "first"):
        table.add_column(col, justify="left" if col in ("ranking", "database") else "right")
    table.add_row(
        "search", f.database, f"{f.mrr:.3f}", f"{f.mrr_en:.3f}", f"{f.mrr_zh:.3f}", str(f.first)
    )
    table.add_row(
        "plain BM25 (reference)",
        "python",
        f"{f.bm25_mrr:.3f}",
        f"{f.bm25_mrr_en:.3f}",
        f"{f.bm25_mrr_zh:.3f}",
        str(f.bm25_first),
    )
    out.print(table)
    for miss in f.misses:
        out.print(f"not first: {miss}", highlight=False)
