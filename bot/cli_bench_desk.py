"""`switchboard bench` for the desk: service levels, the CMDB, knowledge and the console."""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli_bench_common import (
    app,
    err,
    figures_table,
    out,
    print_figures,
    print_json,
    ratio,
    steps,
)


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
    with steps() as step:
        figures = bench.run(tickets=tickets, due=due, ticks=ticks, postgres=server, step=step)
    reference, big = figures
    growth = big.tick_p50_ms / reference.tick_p50_ms if reference.tick_p50_ms else None
    if as_json:
        for f in figures:
            row = f.as_dict()
            row["ratio_to_reference"] = round(growth, 3) if growth and f is big else None
            row["tick_to_bare_write"] = ratio(f.tick_p50_ms, f.bare_write_ms, 1)
            row["second_tick_to_bare_write"] = ratio(f.second_tick_p50_ms, f.bare_write_ms, 1)
            print_json(row)
        return
    table = figures_table(
        f"SLA watcher: {due} warnings due within one minute",
        (
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
        ),
        left=("database",),
    )
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
    shown = f"{growth:.2f}" if growth else "-"
    per_second = big.second_tickets_acted / big.second_ticks if big.second_ticks else 0
    print_figures(
        table,
        f"Ratio of median tick, {big.open_tickets:,} open to {reference.open_tickets:,}: {shown}. "
        f"With {big.open_tickets:,} open, the median tick is "
        f"{ratio(big.tick_p50_ms, big.bare_write_ms, 1)} bare writes and the once-a-second tick "
        f"(about {per_second:.0f} tickets) "
        f"{ratio(big.second_tick_p50_ms, big.bare_write_ms, 1)}. "
        "Target: a tick under 50 ms, independent of the number of open tickets.",
    )


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
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeElapsedColumn,
    )

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
        print_json(figures.as_dict())
        return
    table = figures_table(
        f"Impact analysis: {figures.items:,} items, {figures.links:,} links "
        f"(≤ {figures.max_dependents} direct dependents, longest chain {figures.longest_path}), "
        f"{figures.samples} random items, {figures.database}",
        ("measure", "p50 ms", "p95 ms", "max ms"),
        left=("measure",),
    )
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
    print_figures(
        table,
        f"p95 ratio impact / lookup: {figures.ratio_p95:g}; services listed (median) "
        f"{figures.services_listed_median:g}, most reached {figures.services_total_max:,}; "
        f"generated in {figures.generate_seconds:.1f} s, loaded in {figures.load_seconds:.1f} s.",
        "Target: impact p95 < 50 ms.",
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
        print_json(f.as_dict())
        return
    table = figures_table(
        f"Knowledge search: {f.articles:,} articles, {f.queries:,} queries",
        ("database", "index s", "search p50 ms", "search p95 ms", "slug p95 ms", "ratio"),
        left=("database",),
    )
    table.add_row(
        f.database,
        f"{f.index_seconds:.1f}",
        f"{f.search_p50_ms:.2f}",
        f"{f.search_p95_ms:.2f}",
        f"{f.slug_p95_ms:.3f}",
        f"{f.ratio:.1f}",
    )
    print_figures(table, "Target: search p95 under 20 ms at 10,000 articles.")


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
    with steps() as step:
        f = bench.run(
            tickets=tickets, open_share=open_share, requests=requests, postgres=server, step=step
        )
    if as_json:
        print_json(f.as_dict())
        return
    table = figures_table(
        f"Console queue page: {f.tickets:,} tickets, {f.open_tickets:,} open",
        (
            "database",
            "requests",
            "page p50 ms",
            "page p95 ms",
            "page max ms",
            "/healthz/live p50 ms",
            "/healthz/live p95 ms",
        ),
        left=("database",),
    )
    table.add_row(
        f.database,
        str(f.requests),
        f"{f.page_p50_ms:.1f}",
        f"{f.page_p95_ms:.1f}",
        f"{f.page_max_ms:.1f}",
        f"{f.reference_p50_ms:.2f}",
        f"{f.reference_p95_ms:.2f}",
    )
    print_figures(
        table,
        f"Inserted in {f.insert_seconds:.1f} s; page {f.page_bytes:,} bytes. Target: p95 < 100 ms.",
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
        print_json(f.as_dict(), ensure_ascii=False)
        return
    table = figures_table(
        f"Knowledge search quality: {f.articles} articles, {f.queries} queries, MRR@{f.depth}",
        ("ranking", "database", "MRR", "MRR en", "MRR zh", "first"),
        left=("ranking", "database"),
    )
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
    print_figures(table)
    for miss in f.misses:
        out.print(f"not first: {miss}", highlight=False)
