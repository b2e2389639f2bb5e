"""`switchboard people` and `switchboard token`: the directory and REST API tokens."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bot.cli_common import database_uow as _uow
from bot.cli_common import err, out
from bot.cli_common import fail as _fail
from bot.cli_common import settings_or_exit as _settings
from bot.config import Settings

people_app = typer.Typer(help="The people directory.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)


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


@token_app.command("create")
def token_create(
    as_: Annotated[str, typer.Option("--as", help="Email of the person the token acts as.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
) -> None:
    """Create a REST API token; it is shown once."""
    settings = _settings()
    token = asyncio.run(_token(settings, as_, name))
    err.print(f"Token for {as_} (shown once; store it safely):")
    out.print(token, highlight=False, soft_wrap=True)


async def _token(settings: Settings, email: str, name: str) -> str:
    async with _uow(settings) as uow:
        person = await uow.people.by_email(email)
        if person is None:
            raise _fail(f"No person with email {email}. Import people or run `seed --demo`.")
        issued = await uow.tokens.issue(person, name)
        await uow.commit()
        return issued.token
