"""`switchboard people`: the directory."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.cli_common import database_uow as _uow
from bot.cli_common import err, out
from bot.cli_common import fail as _fail
from bot.cli_common import settings_or_exit as _settings
from bot.config import Settings

people_app = typer.Typer(help="The people directory.", no_args_is_help=True)


@people_app.command("import")
def people_import(
    file: Annotated[
        Path, typer.Argument(help="YAML or CSV directory file.", exists=True, dir_okay=False)
    ],
) -> None:
    """Create or update people from a directory file (format in the README)."""
    from bot.directory import DirectoryError, read

    settings = _settings()
    try:
        records = read(file)
    except DirectoryError as e:
        raise _fail(f"{file}: {e}") from e
    result = asyncio.run(_import(settings, records))
    err.print(
        f"Imported {len(records)} people ({result.created} new, {result.updated} updated, "
        f"{result.identities} channel identities bound)."
    )


async def _import(settings: Settings, records: list):  # type: ignore[no-untyped-def,type-arg]
    from bot.directory import import_people

    async with _uow(settings) as uow:
        result = await import_people(uow, records)
        await uow.commit()
        return result


@people_app.command("list")
def people_list() -> None:
    """Show the directory."""
    settings = _settings()
    rows = asyncio.run(_people(settings))
    from rich.table import Table

    table = Table("name", "email", "roles", "identities")
    for name, email, roles, ids in rows:
        table.add_row(name, email or "", roles, ids)
    out.print(table)


async def _people(settings: Settings) -> list[tuple[str, str | None, str, str]]:
    async with _uow(settings) as uow:
        people = await uow.people.everyone()
        return [
            (
                p.name,
                p.email,
                ", ".join(sorted(r.role.value for r in p.roles)),
                ", ".join(
                    f"{i.platform}:{_shown(i.platform, i.external_id)}" for i in p.identities
                ),
            )
            for p in people
        ]


def _shown(platform: str, external_id: str) -> str:
    from bot.logging import mask_phone

    return mask_phone(external_id) if platform == "phone" else external_id
