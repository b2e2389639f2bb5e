"""`switchboard signin-link`: a one-time link that signs a person in to the web pages."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

import typer

from bot.cli_common import database_uow as _uow
from bot.cli_common import fail as _fail
from bot.cli_common import out
from bot.cli_common import settings_or_exit as _settings
from bot.config import Settings
from bot.web.urls import base_url, signin_url


def signin_link(
    as_: Annotated[str, typer.Option("--as", help="Email of the person to sign in.")],
    next_: Annotated[
        str | None,
        typer.Option("--next", help="Page to open after signing in (default /portal)."),
    ] = None,
) -> None:
    """Print a one-time sign-in link for /portal and /console (15 minutes, single use)."""
    settings = _settings()
    url = asyncio.run(_issue(settings, as_.strip()))
    if next_ is not None:
        # The web sign-in module carries FastAPI and the container: only this check needs it.
        from bot.web.auth import safe_next

        if safe_next(next_, default="") != next_:
            raise _fail("--next must be a path on this site, like /console.", code=2)
        url += "?next=" + quote(next_, safe="/")
    out.print(url, highlight=False, soft_wrap=True, markup=False)


async def _issue(settings: Settings, email: str) -> str:
    async with _uow(settings) as uow:
        person = await uow.people.by_email(email)
        if person is None or not person.active:
            raise _fail(f"No active person with email {email}. Import people or run `seed --demo`.")
        _, token = await uow.signins.issue(person, channel="cli")
        await uow.commit()
    return signin_url(base_url(settings), token)
