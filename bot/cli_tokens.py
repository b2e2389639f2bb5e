"""`switchboard token`: bearer tokens for the REST API and for monitoring integrations."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from bot.cli_common import database_uow as _uow
from bot.cli_common import err, out
from bot.cli_common import fail as _fail
from bot.cli_common import settings_or_exit as _settings
from bot.config import Settings

app = typer.Typer(
    help="Bearer tokens for the REST API and for monitoring sources.", no_args_is_help=True
)


@app.command("create")
def token_create(
    as_: Annotated[
        str | None, typer.Option("--as", help="Email of the person the token acts as.")
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(
            "--integration", help="Name of a monitoring source that posts to /api/alerts."
        ),
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "",
    with_secret: Annotated[
        bool,
        typer.Option(
            "--with-secret",
            help="With --integration: also a secret to sign bodies with "
            "(X-Switchboard-Signature: sha256=<hex HMAC>).",
        ),
    ] = False,
) -> None:
    """Create a token for the REST API (--as) or a monitoring source (--integration); shown once."""
    if (as_ is None) == (integration is None):
        raise _fail("Give exactly one of --as EMAIL or --integration NAME.", code=2)
    if with_secret and integration is None:
        raise _fail("--with-secret goes with --integration.", code=2)
    settings = _settings()
    if as_ is not None:
        token = asyncio.run(_token(settings, as_, name))
        err.print(f"Token for {as_} (shown once; store it safely):")
        out.print(token, highlight=False, soft_wrap=True)
        return
    assert integration is not None
    label = integration.strip()
    if not label or len(label) > 120:
        raise _fail("--integration must be a name of 1-120 characters.", code=2)
    token, secret = asyncio.run(_integration(settings, label, with_secret))
    err.print(f"Token for integration {label} (shown once; store it safely):")
    out.print(token, highlight=False, soft_wrap=True)
    if secret is not None:
        err.print("Signing secret (shown once):")
        out.print(secret, highlight=False, soft_wrap=True)


async def _token(settings: Settings, email: str, name: str) -> str:
    async with _uow(settings) as uow:
        person = await uow.people.by_email(email)
        if person is None:
            raise _fail(f"No person with email {email}. Import people or run `seed --demo`.")
        issued = await uow.tokens.issue(person, name)
        await uow.commit()
        return str(issued.token)


async def _integration(settings: Settings, name: str, with_secret: bool) -> tuple[str, str | None]:
    async with _uow(settings) as uow:
        issued = await uow.integrations.issue(name, with_secret=with_secret)
        await uow.commit()
        return issued.token, issued.secret
