"""`switchboard report`: the desk's figures as a terminal table, JSON, or one HTML file."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from contextlib import nullcontext
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli_common import database_uow, err, out
from bot.cli_common import fail as _fail
from bot.cli_common import settings_or_exit as _settings
from bot.config import Settings
from handlers.rules.figures import Figures
from store.types import utcnow

_PERIOD = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$", re.IGNORECASE)
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class Format(StrEnum):
    """How a report is printed: a text table, one JSON object, or an HTML page."""

    TEXT = "text"
    JSON = "json"
    HTML = "html"


def period(text: str) -> timedelta:
    """`30d`, `12h`, `2w`: how far back a report looks (calendar time, not working days)."""
    found = _PERIOD.match(text)
    if found is None or int(found.group(1)) == 0:
        raise ValueError(f"--since {text!r}: write a period like 30d, 12h or 2w")
    return int(found.group(1)) * _UNIT[found.group(2).lower()]


def report(
    since: Annotated[
        str, typer.Option(help="How far back: 30d, 12h, 2w (tickets opened since then).")
    ] = "30d",
    format_: Annotated[
        Format, typer.Option("--format", help="text (a table), json (one object) or html.")
    ] = Format.TEXT,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """The desk's figures: volumes, MTTA/MTTR, SLA attainment, backlog, fallbacks, approvals."""
    try:
        back = period(since)
    except ValueError as e:
        raise _fail(str(e), 2) from None
    settings = _settings()
    until = utcnow()
    progress = err.status("Reading tickets and messages…") if err.is_terminal else nullcontext()
    with progress:
        figures = asyncio.run(_figures(settings, until - back, until))
    if format_ is Format.JSON:
        text = json.dumps(figures.to_json(), ensure_ascii=False, indent=2) + "\n"
    elif format_ is Format.HTML:
        from bot.charts import report_html

        text = report_html(figures)
    else:
        if out_file is None:
            _print_tables(figures)
            return
        from rich.console import Console

        with out_file.open("w", encoding="utf-8") as fh:
            _print_tables(figures, Console(file=fh, width=100, color_system=None))
        err.print(f"Wrote {out_file}.")
        return
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text, encoding="utf-8")
        err.print(f"Wrote {out_file}.")


async def _figures(settings: Settings, since: datetime, until: datetime) -> Figures:
    from handlers.reports import desk_figures

    try:
        async with database_uow(settings) as uow:
            return await desk_figures(uow, since=since, until=until)
    except typer.Exit:
        raise
    except Exception as e:
        raise _fail(f"Cannot read the figures: {type(e).__name__}: {e}") from e


def _print_tables(figures: Figures, console: object = None) -> None:
    from rich.console import Console

    from bot.charts import charts_of, headline

    target = console if isinstance(console, Console) else out
    f = figures
    head = Table(title=f"Desk report {f.since:%Y-%m-%d %H:%M} – {f.until:%Y-%m-%d %H:%M} UTC")
    head.add_column("figure")
    head.add_column("value", justify="right")
    for label, shown_value in headline(f):
        head.add_row(label, shown_value)
    target.print(head)
    for chart in charts_of(f):
        if chart.empty:
            continue
        table = Table(title=chart.title, title_justify="left")
        table.add_column("")
        table.add_column(
            chart.unit if chart.unit not in ("", "count", "fraction") else "", justify="right"
        )
        for key, value in chart.values.items():
            shown = (
                f"{value * 100:.1f}%"
                if chart.unit == "fraction"
                else f"{value:,.1f}".removesuffix(".0")
            )
            table.add_row(key, shown)
        target.print(table)
    if f.notes:
        target.print("; ".join(f.notes) + ".")
