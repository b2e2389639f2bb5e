"""`switchboard bench`: throughput and latency of the ack path and the whole pipeline.

Each command starts real processes on a throw-away database (SQLite for the embedded
mode; a new PostgreSQL database and Redis key prefix for the scaled mode), drives them with
a loopback load and prints the figures. Nothing here is asserted: these are measurements.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(no_args_is_help=True)
# Tables are wide; don't squeeze them into 80 columns when output goes to a file or a pipe.
out = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True)


class Mode(StrEnum):
    embedded = "embedded"
    scaled = "scaled"
    both = "both"


def _modes(mode: Mode) -> list[str]:
    return ["embedded", "scaled"] if mode is Mode.both else [mode.value]


@app.command()
def ingest(
    mode: Annotated[Mode, typer.Option(help="Which deployment to measure.")] = Mode.both,
    rate: Annotated[float, typer.Option(help="Steady request rate for the latency run.")] = 500.0,
    seconds: Annotated[float, typer.Option(help="Length of each load phase.")] = 10.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight for the maximum.")] = 32,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """The ack path (verify, parse, durable inbox, enqueue, 200) beside a bare endpoint.

    Prints the maximum requests/s, p50/p99 ack latency at a steady rate, and the ratio of the
    route's maximum to the bare endpoint's (same framework, same server flags).
    """
    from benchmarks import ingest as bench

    with err.status("starting") as status:
        figures = bench.run(
            _modes(mode),
            rate=rate,
            seconds=seconds,
            concurrency=concurrency,
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
    out.print("Targets: ack p99 ≤ 50 ms at a steady 500 req/s; ratio to bare ≥ 0.2.")


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
        for m in _modes(mode):
            status.update(f"measuring the {m} pipeline")
            results.append(
                bench.run_mode(m, messages=messages, rate=rate, seconds=seconds, workers=workers)
            )
    if as_json:
        for r in results:
            out.print(json.dumps(r.as_dict()), highlight=False, soft_wrap=True)
        return
    table = Table(title=f"Pipeline: {messages} messages burst; latency at {rate:g} msg/s")
    for col in ("mode", "messages/s", "p50 ms", "p95 ms", "resident memory (MB)"):
        table.add_column(
            col, justify="left" if col in ("mode", "resident memory (MB)") else "right"
        )
    for r in results:
        rss = ", ".join(f"{k} {v:.0f}" for k, v in r.rss_mb.items())
        table.add_row(r.mode, f"{r.throughput:,.0f}", f"{r.p50_ms:.0f}", f"{r.p95_ms:.0f}", rss)
    out.print(table)
    out.print(
        "Targets: ≥ 300 msg/s embedded, ≥ 500 scaled; p95 ≤ 300 ms at 50 msg/s; "
        "web ≤ 150 MB, worker ≤ 400 MB."
    )


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
