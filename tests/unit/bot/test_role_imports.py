"""Each role loads only the libraries it uses: what one role imports costs every process of it.

Every case runs in a fresh interpreter, as `switchboard web` and `switchboard worker` start:
the command line first, then the role's app or container, with no channel configured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from store.db import normalise_database_url
from store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[3]

# The command line's console and structlog's rich tracebacks (unused: exceptions are
# rendered before any renderer), and the phone number metadata until a number is parsed.
NOT_IN_EITHER = ("rich", "pygments", "attr", "phonenumbers")
# The NLU, its numeric stack, the worker's timers and the SDKs of channels that are off.
NOT_IN_WEB = (
    *NOT_IN_EITHER,
    "spacy",
    "thinc",
    "numpy",
    "nlu.pipeline",
    "bot.runtime",
    "bot.scheduler",
    "bot.swarm",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "telegram",
    "tweepy",
    "twilio",
    # Made with a channel's or sign-in's first HTTP client, none of which is needed here.
    "httpx",
    "aiomqtt",
    "authlib",
    "joserfc",
    "bot.desk.apply",
    "bot.desk.files",
    "alembic",
    # The PostgreSQL driver: these cases run on SQLite.
    "asyncpg",
    # Templates, until a page is rendered.
    "jinja2",
    # The report's rules, until `/metrics` is first scraped for the desk's gauges.
    "handlers.reports",
    "handlers.rules.figures",
    # The worker's parts: its loop, the intent router over every handler, the dispatcher.
    "bot.worker",
    "bot.handling",
    "bot.router",
    "bot.outbox",
    # The chat's handlers, until a route of the API or the console runs one.
    "handlers.registry",
    "handlers.agent",
    "handlers.approvers",
    "handlers.catalog",
    "handlers.change_lifecycle",
    "handlers.changes",
    "handlers.console",
    "handlers.deflection",
    "handlers.fulfilment",
    "handlers.improvements",
    "handlers.incidents",
    "handlers.links",
    "handlers.problems",
    "handlers.releases",
    "handlers.service_levels",
    "handlers.signin",
    "handlers.suppliers",
    "handlers.tickets",
    # Commands other than the serving ones.
    *(
        "bot.cli_bench",
        "bot.cli_desk",
        "bot.cli_kb",
        "bot.cli_nlu",
        "bot.cli_report",
        "bot.cli_signin",
        "bot.cli_telegram",
        "bot.cli_tokens",
    ),
)
# Pages, templates, the REST API and its documentation belong to the web role.
NOT_IN_WORKER = (
    *NOT_IN_EITHER,
    "fastapi",
    "jinja2",
    "bot.app",
    "bot.api",
    "bot.api_docs",
    "bot.openapi",
    "bot.web.render",
    "bot.web.portal",
    "bot.web.console",
    "bot.web.auth",
    "bot.web.oidc",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "telegram",
    "tweepy",
    "twilio",
    "httpx",
    "authlib",
    "bot.desk.apply",
    "alembic",
    "asyncpg",
    "bot.cli_bench",
    "bot.cli_desk",
    "bot.cli_kb",
    "bot.cli_report",
    "bot.cli_signin",
    "bot.cli_telegram",
    "bot.cli_tokens",
    # Starlette serves the channels' routes, which only the web role mounts.
    "starlette",
    "python_multipart",
    "anyio",
    # The web chat's token signing, which only its routes use.
    "itsdangerous",
)
# Each role needs these: the probe must find them.
NEEDED = ("sqlalchemy", "bot.container", "handlers.context")
WORKER_NEEDED = (*NEEDED, "handlers.registry")

# The schema check both commands run before they serve.
CHECK = """
from bot.cli import _check_schema, _settings
_check_schema(_settings(), migrate=False)
"""
WEB = (
    CHECK
    + """
import bot.asgi
"""
)
WORKER = (
    CHECK
    + """
from bot.config import load_settings
from bot.container import Role, build_container
import bot.runtime
build_container(load_settings(), roles=frozenset({Role.WORKER}))
"""
)
# What `switchboard web` becomes after its checks (`bot.serve_web`, in the same process):
# uvicorn and the app, without the command line that ran the checks.
SERVED = """
import uvicorn
import bot.serve_web
from bot.config import load_settings
from bot.logging import configure
import bot.asgi
"""
COMMAND_LINE = ("typer", "bot.cli", "bot.cli_common", "bot.cli_help", "bot.cli_people")
# The web role once its container is open, as in its lifespan: channels are started, yet
# none has made an HTTP client (httpx loads httpcore only for a client's transport).
WEB_OPEN = (
    CHECK
    + """
import asyncio
from bot.config import load_settings
from bot.container import Role, build_container


async def _open() -> None:
    async with build_container(load_settings(), roles=frozenset({Role.WEB})) as container:
        assert container.unique_channels()


asyncio.run(_open())
"""
)
# spaCy's command line (weasel, requests, jinja2, the download and project tools) stays
# unloaded by the model, and still works when it is asked for.
SPACY_CLI = """
from nlu.pipeline import build_blank
build_blank().make_doc("the printer is down")
before = sorted(n for n in ("spacy.cli.download", "weasel", "requests", "jinja2") if n in sys.modules)
import spacy
from spacy.cli import download
from spacy.cli.info import info_cli
after = sorted(n for n in ("spacy.cli.download", "weasel") if n in sys.modules)
print(json.dumps({"before": before, "after": after, "info": sorted(spacy.info())[:1]}))
raise SystemExit
"""
# rich stays importable for the commands that print, and structlog still renders.
CONSOLE_LATER = """
import logging
import bot.cli
from bot.cli_common import err
from bot.logging import configure
before = "rich" in sys.modules
configure("INFO", "console")
logging.getLogger("x").warning("still logged")
err.print("[bold]printed[/bold]")
print(json.dumps({"before": before, "after": "rich" in sys.modules}))
raise SystemExit
"""
SLACK_PARTS = """
import channels.slack.parse, channels.slack.render
before = "slack_bolt" in sys.modules
from channels.slack import SlackChannel
from channels.slack.adapter import SlackChannel as Adapter
print(json.dumps({"before": before, "same": SlackChannel is Adapter}))
raise SystemExit
"""


# SQLite's driver, its async wrapper and SQLAlchemy's SQLite dialect, none of which a
# PostgreSQL deployment uses.
SQLITE = ("sqlite3", "_sqlite3", "aiosqlite", "sqlalchemy.dialects.sqlite", "store.sqlite_inline")
PG_NEEDED = ("asyncpg", "sqlalchemy.dialects.postgresql.asyncpg", "bot.container")
# Each role's imports and container on PostgreSQL and Redis; neither is reached, as building a
# container opens no connection.
PG_WEB = """
import bot.asgi
from bot.config import load_settings
from bot.container import Role, build_container
build_container(load_settings(), roles=frozenset({Role.WEB}))
"""
PG_WORKER = """
import bot.cli
import bot.runtime
from bot.config import load_settings
from bot.container import Role, build_container
build_container(load_settings(), roles=frozenset({Role.WORKER}))
"""
# On SQLite the same engine loads what it needs on first use, and still writes an upsert.
SQLITE_ON_USE = """
import asyncio
from store.db import create_engine
before = sorted(n for n in ("aiosqlite", "sqlalchemy.dialects.sqlite") if n in sys.modules)


async def _use() -> list[str]:
    from sqlalchemy import text

    from store.hotpath import insert_of
    from store.models import Base, Service

    engine = create_engine(DATABASE)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        for _ in range(2):
            await conn.execute(
                insert_of(conn.dialect.name)(Service.__table__)
                .values(name="mail", description="")
                .on_conflict_do_nothing(index_elements=["name"])
            )
        rows = (await conn.execute(text("SELECT name FROM services"))).scalars().all()
    kind = type((await engine.raw_connection()).driver_connection).__name__
    await engine.dispose()
    return [*rows, kind]


used = asyncio.run(_use())
after = sorted(n for n in ("aiosqlite", "sqlalchemy.dialects.sqlite") if n in sys.modules)
print(json.dumps({"before": before, "after": after, "used": used}))
raise SystemExit
"""


def _fresh(tmp_path: Path, script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`script` run by a fresh interpreter in `tmp_path`, with only `env` beside the basics."""
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", script],
        cwd=tmp_path,  # no .env file of the checkout
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            **env,
        },
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )


def _loaded(tmp_path: Path, code: str, names: tuple[str, ...]) -> list[str]:
    """The `names` a fresh interpreter holds after running `code` with no channel set up."""
    database = f"sqlite:///{tmp_path}/switchboard.db"
    upgrade(normalise_database_url(database)[0])
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([n for n in {names!r} if n in sys.modules]))"
    )
    done = _fresh(tmp_path, script, DATABASE_URL=database, LOG_LEVEL="WARNING")
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_the_web_role_leaves_the_nlu_the_timers_and_idle_sdks_unloaded(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, WEB, (*NOT_IN_WEB, *NEEDED))
    assert [n for n in loaded if n not in NEEDED] == []
    # Guards the guard: what the role needs shows up, so an empty answer means something.
    assert [n for n in loaded if n in NEEDED] == list(NEEDED)


def test_the_served_web_role_holds_nothing_of_the_command_line(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, SERVED, (*COMMAND_LINE, *NOT_IN_WEB, *NEEDED))
    assert [n for n in loaded if n not in NEEDED] == []
    assert [n for n in loaded if n in NEEDED] == list(NEEDED)


def test_the_web_role_opens_its_channels_without_making_an_http_client(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, WEB_OPEN, ("httpcore", "h11", "certifi", *NEEDED))
    assert [n for n in loaded if n not in NEEDED] == []
    assert [n for n in loaded if n in NEEDED] == list(NEEDED)


def test_the_worker_leaves_pages_templates_and_the_api_unloaded(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, WORKER, (*NOT_IN_WORKER, *WORKER_NEEDED))
    assert [n for n in loaded if n not in WORKER_NEEDED] == []
    assert [n for n in loaded if n in WORKER_NEEDED] == list(WORKER_NEEDED)


def test_the_model_loads_without_spacys_command_line_which_loads_on_first_use(
    tmp_path: Path,
) -> None:
    done = _fresh(tmp_path, "import json, sys\n" + SPACY_CLI)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before": [],
        "after": ["spacy.cli.download", "weasel"],
        "info": ["location"],
    }


def test_slacks_pure_parts_load_without_bolt_and_the_adapter_on_first_use(
    tmp_path: Path,
) -> None:
    done = _fresh(tmp_path, "import json, sys\n" + SLACK_PARTS)
    assert json.loads(done.stdout) == {"before": False, "same": True}


def test_the_console_loads_rich_on_first_print_and_logs_render_without_it(
    tmp_path: Path,
) -> None:
    done = _fresh(tmp_path, "import json, sys\n" + CONSOLE_LATER)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"before": False, "after": True}
    assert "still logged" in done.stderr
    assert "printed" in done.stderr


def _loaded_on_postgresql(tmp_path: Path, code: str, names: tuple[str, ...]) -> list[str]:
    """The `names` a fresh interpreter holds after `code`, configured for PostgreSQL and Redis."""
    script = (
        f"import json, sys\n{code}\nprint(json.dumps([n for n in {names!r} if n in sys.modules]))"
    )
    done = _fresh(
        tmp_path,
        script,
        # Nothing listens there: the case must not need a connection to pass.
        DATABASE_URL="postgresql://switchboard@127.0.0.1:9/switchboard",
        REDIS_URL="redis://127.0.0.1:9/0",
        LOG_LEVEL="WARNING",
    )
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_on_postgresql_the_web_role_leaves_sqlite_unloaded(tmp_path: Path) -> None:
    loaded = _loaded_on_postgresql(tmp_path, PG_WEB, (*SQLITE, *PG_NEEDED))
    assert loaded == list(PG_NEEDED)


def test_on_postgresql_the_worker_leaves_sqlite_and_starlette_unloaded(tmp_path: Path) -> None:
    names = (*SQLITE, "starlette", "python_multipart", "anyio", *PG_NEEDED)
    loaded = _loaded_on_postgresql(tmp_path, PG_WORKER, names)
    assert loaded == list(PG_NEEDED)


def test_sqlite_loads_its_driver_and_dialect_on_first_use(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path}/on_use.db"
    done = _fresh(tmp_path, f"import json, sys\nDATABASE = {database!r}\n" + SQLITE_ON_USE)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before": [],
        "after": ["aiosqlite", "sqlalchemy.dialects.sqlite"],
        "used": ["mail", "InlineConnection"],
    }
