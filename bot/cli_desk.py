"""`switchboard import FILE...`: load the desk configuration (format in docs/desk.md)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings

if TYPE_CHECKING:
    from bot.desk.applied import Change
    from bot.desk.files import Desk, DeskError

out = Console()
err = Console(stderr=True)


def desk_import(
    files: Annotated[
        list[Path],
        typer.Argument(help="YAML desk files, or CSV of people or services.", dir_okay=False),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change and apply nothing.")
    ] = False,
) -> None:
    """Create or update people, groups, services, calendars, agreements and suppliers.

    All files are applied in one transaction: one bad entry and nothing is applied.
    """
    # The desk schema pulls in handlers and every driver; only this command needs it.
    from bot.desk.files import DeskError, read

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        err.print(f"[red]No such file: {', '.join(missing)}[/red]")
        raise typer.Exit(2)
    try:
        desk = read(files)
    except DeskError as e:
        _report(e)
        raise typer.Exit(2) from e
    for warning in desk.warnings:
        err.print(warning, style="yellow", markup=False, highlight=False, soft_wrap=True)
    settings = _settings()
    try:
        changes = asyncio.run(_apply(settings, desk, commit=not dry_run))
    except DeskError as e:
        _report(e)
        raise typer.Exit(2) from e
    out.print(_table(changes, dry_run=dry_run))
    counts = Counter(c.action for c in changes)
    verb = "Would apply" if dry_run else "Applied"
    err.print(
        f"{verb} {len(changes)} entries: {counts['create']} new, {counts['update']} changed, "
        f"{counts['unchanged']} unchanged."
    )


def _settings() -> Settings:
    try:
        return load_settings()
    except Exception as e:  # pydantic's message names the variable at fault
        err.print(f"[red]Configuration error:[/red] {e}")
        raise typer.Exit(2) from e


def _report(e: DeskError) -> None:
    err.print(f"[red]Nothing was imported; {len(e.problems)} problem(s):[/red]")
    for line in e.problems:
        err.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


async def _apply(settings: Settings, desk: Desk, *, commit: bool) -> list[Change]:
    from bot.desk.apply import apply
    from bot.desk.apply_settings import help_channel_warnings
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            changes = await apply(uow, desk)
            for warning in await help_channel_warnings(uow, settings.slack.help_channel_ids):
                err.print(warning, style="yellow", markup=False, highlight=False, soft_wrap=True)
            if commit:
                await uow.commit()
            # Leaving without a commit rolls everything back: that is the dry run.
            return changes
    finally:
        await engine.dispose()


def _table(changes: list[Change], *, dry_run: bool) -> Table:
    table = Table(title="What would change" if dry_run else "What changed")
    for column in ("section", "entry", "change", "fields"):
        table.add_column(column)
    style = {"create": "green", "update": "yellow", "unchanged": "dim"}
    for c in changes:
        table.add_row(c.section, c.name, f"[{style[c.action]}]{c.action}[/]", ", ".join(c.fields))
    return table
