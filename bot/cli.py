"""The `switchboard` command line."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
import typer.main

import bot.cli_boot  # noqa: F401  # empties the metrics directory before metrics load
from bot.cli_common import database_uow as _uow
from bot.cli_common import err, out
from bot.cli_common import fail as _fail
from bot.cli_common import settings_or_exit as _settings
from bot.cli_help import PlainFlagsGroup
from bot.cli_people import people_app
from bot.config import Settings

# -- sub-apps ----------------------------------------------------------------------------------

# name: (module, attribute, help). Each is imported when it is run or listed in the help:
# `serve`, `web` and `worker` processes never hold the other commands' modules.
LAZY_COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "nlu": ("bot.cli_nlu", "app", "Train, try and measure the language model."),
    "bench": (
        "bot.cli_bench",
        "app",
        "Measure throughput, latency and memory beside a reference taken in the same run.",
    ),
    "telegram": ("bot.cli_telegram", "app", "Register the Telegram webhook."),
    "import": ("bot.cli_desk", "desk_import", None),
    "token": ("bot.cli_tokens", "app", None),
    "kb": ("bot.cli_kb", "app", None),
    "report": ("bot.cli_report", "report", None),
    "signin-link": ("bot.cli_signin", "signin_link", None),
}


def _lazy_command(name: str) -> Any:
    """The click command of one entry of `LAZY_COMMANDS`, imported now."""
    module, attribute, help_text = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
        if help_text is not None:
            command.help = help_text
    else:
        single = typer.Typer(add_completion=False, rich_markup_mode="rich")
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


def _is_group(name: str, command: Any) -> bool:
    if command is not None:
        return hasattr(command, "commands")
    return LAZY_COMMANDS[name][1] == "app"


class LazyGroup(PlainFlagsGroup):
    """The root group, with the commands of `LAZY_COMMANDS` imported on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        """Every command name, in the order of registration: commands first, then groups."""
        names = [*super().list_commands(ctx)]
        names += [n for n in LAZY_COMMANDS if n not in self.commands]
        return sorted(names, key=lambda n: _is_group(n, self.commands.get(n)))

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command named `cmd_name`, importing its module the first time."""
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(_lazy_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)


app = typer.Typer(
    name="switchboard",
    cls=LazyGroup,
    help="Switchboard: an IT service desk that lives in chat.\n\n"
    "With no environment variables it runs embedded (SQLite under var/, one process). "
    "Set DATABASE_URL and REDIS_URL to run `web` and `worker` processes separately.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(people_app, name="people")

T = TypeVar("T")


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
    from bot import serve_web

    settings = _settings()
    if not settings.scaled:
        err.print(
            "[yellow]REDIS_URL is not set: events will wait for a worker's recovery sweep. "
            "Use `switchboard serve` for a single process.[/yellow]"
        )
    # The web role starts even while the database is down and answers 503 until it is back.
    _check_schema(settings, migrate=False, unreachable_ok=True)
    # Every web process pays for what this one holds: the server starts afresh in this
    # process, without the command line and what the check left behind.
    argv = serve_web.argv(host, port, workers)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606


@app.command()
def worker(
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this process's Prometheus metrics on a port.")
    ] = None,
) -> None:
    """Run the worker role alone: consume events, send replies, run timers (scaled mode)."""
    settings = _settings()
    _check_schema(settings, migrate=False, unreachable_ok=True)
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
    from bot.resilience import Outage, sleep_or_stop
    from store.outage import is_outage

    # A worker started while Redis or the database is away waits for them instead of
    # exiting: a process manager restarting it in a loop would only add to the outage.
    starting = Outage("worker-start")
    while not stop.is_set():
        try:
            async with build_container(settings, roles=frozenset({Role.WORKER})) as container:
                starting.recovered()
                await run_worker_role(container, stop)
                return
        except Exception as e:
            if not is_outage(e):
                raise
            await sleep_or_stop(stop, starting.failed(e))


def _check_schema(settings: Settings, *, migrate: bool, unreachable_ok: bool = False) -> None:
    if migrate:
        from store.migrate import upgrade

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
    from store.revisions import database_revision, shipped_head

    async with build_container(settings, roles=NO_ROLES) as container:
        try:
            current, certain = await database_revision(container.engine)
            head = shipped_head()
            if certain and head is not None:
                # Alembic stays unloaded: every `web` and `worker` process checks this.
                return current, head
            from store.migrate import current_revision, head_revision

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


def main() -> None:  # pragma: no cover
    """Run the `switchboard` command line (the console script's entry point)."""
    app()
