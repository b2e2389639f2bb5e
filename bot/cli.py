"""The `switchboard` command line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from bot.config import Settings, load_settings
from bot.logging import configure as configure_logging

app = typer.Typer(
    name="switchboard",
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
app.add_typer(db_app, name="db")
app.add_typer(people_app, name="people")

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
        int, typer.Option(help="Port to listen on (default: $PORT or 8000).")
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
        int, typer.Option(help="Port to listen on (default: $PORT or 8000).")
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
    _check_schema(settings, migrate=False)
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
    from bot.container import Container, Role, build_container
    from bot.platforms import ChannelDeps, DatabaseCursors, build_channels
    from bot.runtime import run_worker_role
    from channels.base import IngestOutcome
    from channels.conversation import Event, Reply

    holder: dict[str, Container] = {}

    async def no_history(_key: str, _after: int) -> list[tuple[int, Reply]]:
        return []

    async def ingest(event: Event) -> IngestOutcome:
        return await holder["c"].ingress(event)

    cursors = DatabaseCursors()
    deps = ChannelDeps(
        secret=lambda: holder["c"].webchat_secret,
        history=no_history,
        cursors=cursors,
        ingest=ingest,
        services=cursors.service_names,
        delivery_status=cursors.delivery_status,
    )
    channels = build_channels(settings, deps)
    container = await build_container(settings, roles=frozenset({Role.WORKER}), channels=channels)
    holder["c"] = container
    cursors.bind(container.factory)
    await container.ingress.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await run_worker_role(container, stop)
    finally:
        await container.aclose()


def _check_schema(settings: Settings, *, migrate: bool) -> None:
    from store.migrate import upgrade

    if migrate:
        upgrade(settings.async_database_url)
        return
    current, head = asyncio.run(_revisions(settings))
    if current != head:
        raise _fail(
            f"The database schema is at {current or 'nothing'}, the code needs {head}. "
            "Run `switchboard db upgrade` first."
        )


async def _revisions(settings: Settings) -> tuple[str | None, str | None]:
    from store.db import create_engine
    from store.migrate import current_revision, head_revision

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        return await current_revision(engine), head_revision()
    except Exception as e:
        raise _fail(f"Cannot reach the database: {e}") from e
    finally:
        await engine.dispose()


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
async def _uow(settings: Settings):  # type: ignore[no-untyped-def]
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            yield uow
    finally:
        await engine.dispose()


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
    try:
        asyncio.run(_chat(settings, as_))
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
    from bot.cli_tokens import app as token_app

    app.add_typer(nlu_app, name="nlu", help="Train, try and measure the language model.")
    app.add_typer(bench_app, name="bench", help="Measure ingest and pipeline throughput.")
    app.add_typer(telegram_app, name="telegram", help="Register the Telegram webhook.")
    app.add_typer(token_app, name="token")


_mount()


def main() -> None:  # pragma: no cover
    app()
