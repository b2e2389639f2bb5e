"""The `switchboard` command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.cli_help import PlainFlagsGroup
from bot.config import Settings, load_settings
from bot.logging import configure as configure_logging

if TYPE_CHECKING:
    from store.uow import UnitOfWork

app = typer.Typer(
    name="switchboard",
    cls=PlainFlagsGroup,
    help="Switchboard: an IT service desk that lives in chat.\n\n"
    "With no environment variables it runs embedded (SQLite under var/, one process). "
    "Set DATABASE_URL and REDIS_URL to run `web` and `worker` processes separately.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
people_app = typer.Typer(help="The people directory.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(people_app, name="people")
app.add_typer(token_app, name="token")

T = TypeVar("T")

out = Console()
err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except Exception as e:  # pydantic's message names the variable at fault
        err.print(f"[red]Configuration error:[/red] {e}")
        raise typer.Exit(2) from e
    configure_logging(settings.log_level, settings.log_format)
    return settings


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop.

    Database and Redis round trips are most of what a worker does; uvloop's transports make
    each of them cheaper than the standard event loop's.
    """
    import uvloop

    return uvloop.run(main)


def _default_port() -> int:
    return int(os.environ.get("PORT", "8000"))


# -- serving -------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on.", show_default="$PORT or 8000")
    ] = _default_port(),
) -> None:
    """Run everything in one process: webhooks, web chat, worker, dispatcher, scheduler.

    On SQLite (the embedded default) the schema is migrated first.
    """
    import uvicorn

    from bot.app import create_app
    from bot.container import ALL_ROLES

    settings = _settings()
    _check_schema(settings, migrate=settings.is_sqlite)
    uvicorn.run(
        create_app(settings, roles=ALL_ROLES),
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on.", show_default="$PORT or 8000")
    ] = _default_port(),
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Run the web role alone: webhooks, web chat, REST API (scaled mode)."""
    import uvicorn

    settings = _settings()
    if not settings.scaled:
        err.print(
            "[yellow]REDIS_URL is not set: events will wait for a worker's recovery sweep. "
            "Use `switchboard serve` for a single process.[/yellow]"
        )
    # The web role starts even while the database is down and answers 503 until it is back.
    _check_schema(settings, migrate=False, unreachable_ok=True)
    uvicorn.run(
        "bot.asgi:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_config=None,
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this process's Prometheus metrics on a port.")
    ] = None,
) -> None:
    """Run the worker role alone: consume events, send replies, run timers (scaled mode)."""
    settings = _settings()
    _check_schema(settings, migrate=False)
    port = metrics_port or settings.metrics_port
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)
    _run(_worker(settings))


async def _worker(settings: Settings) -> None:
    from bot.container import Role, build_container
    from bot.runtime import run_worker_role

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with build_container(settings, roles=frozenset({Role.WORKER})) as container:
        await run_worker_role(container, stop)


def _check_schema(settings: Settings, *, migrate: bool, unreachable_ok: bool = False) -> None:
    from store.migrate import upgrade

    if migrate:
        upgrade(settings.async_database_url)
        return
    try:
        current, head = asyncio.run(_revisions(settings))
    except typer.Exit:
        if not unreachable_ok:
            raise
        err.print("[yellow]Starting without the database; it is checked again on use.[/yellow]")
        return
    if current != head:
        raise _fail(
            f"The database schema is at {current or 'nothing'}, the code needs {head}. "
            "Run `switchboard db upgrade` first."
        )


async def _revisions(settings: Settings) -> tuple[str | None, str | None]:
    from bot.container import NO_ROLES, build_container
    from store.migrate import current_revision, head_revision

    async with build_container(settings, roles=NO_ROLES) as container:
        try:
            return await current_revision(container.engine), head_revision()
        except Exception as e:
            raise _fail(f"Cannot reach the database: {type(e).__name__}: {e}") from e


# -- database and directory ------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the database schema (the release step runs this)."""
    from store.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.async_database_url, revision)
    except Exception as e:
        raise _fail(f"Migration failed: {e}") from e
    err.print(f"Database schema is at {revision}.")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of the code."""
    settings = _settings()
    current, head = asyncio.run(_revisions(settings))
    out.print(f"database: {current or '(empty)'}\ncode:     {head}")


@app.command()
def seed(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load demo people, services and knowledge articles.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when the directory has people.")
    ] = False,
) -> None:
    """Load starting data."""
    if not demo:
        raise _fail("Nothing to seed: pass --demo.", 2)
    settings = _settings()
    result = asyncio.run(_seed(settings, if_empty))
    if result is None:
        err.print("The directory already has people; demo data not loaded.")
        return
    err.print(
        f"Loaded {result['people']} people, {result['services']} services and "
        f"{result['articles']} knowledge articles."
    )
    err.print("Try: [bold]switchboard chat --as alice@example.com[/bold]")


async def _seed(settings: Settings, if_empty: bool) -> dict[str, int] | None:
    from bot.demo import seed_demo

    async with _uow(settings) as uow:
        if if_empty and await uow.people.count() > 0:
            return None
        result = await seed_demo(uow)
        await uow.commit()
        return result


@contextlib.asynccontextmanager
async def _uow(settings: Settings) -> AsyncIterator[UnitOfWork]:
    """One unit of work on the container of a command that needs only the database."""
    from bot.container import NO_ROLES, build_container

    async with build_container(settings, roles=NO_ROLES) as container, container.uow() as uow:
        yield uow


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


# -- console chat ----------------------------------------------------------------------------


@app.command()
def chat(
    as_: Annotated[
        str, typer.Option("--as", help="Email of the directory person you are.")
    ] = "alice@example.com",
) -> None:
    """Talk to the bot in the terminal, through the full pipeline (one message per line)."""
    quiet = {} if "LOG_LEVEL" in os.environ else {"log_level": "WARNING"}
    settings = _settings(**quiet)
    if settings.is_sqlite:
        _check_schema(settings, migrate=True)
    from bot.console_session import ConversationError

    try:
        asyncio.run(_chat(settings, as_))
    except ConversationError as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        pass


async def _chat(settings: Settings, email: str) -> None:
    from bot.console_session import ConsoleSession

    session = ConsoleSession(settings, email, out)
    async with session:
        interactive = sys.stdin.isatty()
        if interactive:
            err.print(f"Chatting as {session.person_name}. Type a message; Ctrl-D to leave.")
        while True:
            if interactive:
                err.print("[bold]you>[/bold] ", end="")
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                continue
            await session.say(text)


# -- sub-apps ----------------------------------------------------------------------------------


def _mount() -> None:
    from bot.cli_bench import app as bench_app
    from bot.cli_nlu import app as nlu_app
    from bot.cli_telegram import app as telegram_app

    app.add_typer(nlu_app, name="nlu", help="Train, try and measure the language model.")
    app.add_typer(bench_app, name="bench", help="Measure ingest and pipeline throughput.")
    app.add_typer(telegram_app, name="telegram", help="Register the Telegram webhook.")


_mount()


def main() -> None:  # pragma: no cover
    app()
