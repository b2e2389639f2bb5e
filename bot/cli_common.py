"""What the `switchboard` commands share: consoles, settings, failures, the database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

import typer

from bot.config import Settings, load_settings
from bot.logging import configure as configure_logging

if TYPE_CHECKING:
    from rich.console import Console

    from store.uow import UnitOfWork


class _ConsoleOnFirstUse:
    """A rich `Console` made when something is first printed.

    rich with its highlighter and pygments costs every `web` and `worker` process about
    3 MB, and those print at most a warning before their logs take over.
    """

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return getattr(self._console, name)


out = cast("Console", _ConsoleOnFirstUse(stderr=False))
err = cast("Console", _ConsoleOnFirstUse(stderr=True))


def settings_or_exit(**overrides: object) -> Settings:
    """The settings, with logging configured; exit code 2 with the reason when invalid."""
    try:
        settings = load_settings(**overrides)
    except Exception as e:  # pydantic's message names the variable at fault
        err.print(f"[red]Configuration error:[/red] {e}")
        raise typer.Exit(2) from e
    configure_logging(settings.log_level, settings.log_format)
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` in red on stderr; raise the returned `Exit`."""
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


@contextlib.asynccontextmanager
async def database_uow(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """One unit of work on the container of a command that needs only the database."""
    from bot.container import NO_ROLES, build_container

    async with build_container(settings, roles=NO_ROLES) as container, container.uow() as uow:
        yield uow
