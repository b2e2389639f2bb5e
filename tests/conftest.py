"""Fixtures shared by every tier: clean settings, a trained model, databases, Redis.

PostgreSQL and Redis tests run when `SWITCHBOARD_TEST_DATABASE_URL` (a server URL whose
user may create databases) and `SWITCHBOARD_TEST_REDIS_URL` are set; each test gets its own
database and key prefix and removes them afterwards. With `SWITCHBOARD_REQUIRE_SERVICES=1`
(CI) an unreachable service fails the test instead of skipping it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import structlog
from hypothesis import settings as hypothesis_settings

from bot.config import Settings
from nlu.types import Understander
from tests import log_output

# Threads of an app under test log while pytest swaps its capture streams: see the module.
log_output.install()

# `HYPOTHESIS_PROFILE=fuzz` (CI) runs every property test with 10,000 examples.
hypothesis_settings.register_profile("default", max_examples=300)
hypothesis_settings.register_profile("fuzz", max_examples=10_000)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_ENV = "SWITCHBOARD_TEST_DATABASE_URL"
REDIS_ENV = "SWITCHBOARD_TEST_REDIS_URL"
REQUIRE_ENV = "SWITCHBOARD_REQUIRE_SERVICES"
_SCRUB = (
    "SLACK_",
    "TELEGRAM_",
    "TWILIO_",
    "X_",
    "DATABASE_URL",
    "REDIS_URL",
    "PUBLIC_URL",
    "SECRET_KEY",
    "NLU_MODEL_PATH",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "ENVIRONMENT",
    "PORT",
)


def require_services() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false")


def missing_service(what: str) -> None:
    """Skip, or fail when CI asked for the services."""
    if require_services():
        pytest.fail(f"{what} was required ({REQUIRE_ENV}=1) but is not available")
    pytest.skip(f"{what} not configured")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SDKs and settings read the environment; tests build their settings explicitly."""
    for key in list(os.environ):
        if key.startswith(_SCRUB):
            monkeypatch.delenv(key, raising=False)
    # python-telegram-bot 22 warns when it builds RetryAfter unless opted in to timedelta
    # periods, and warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(autouse=True)
def logging_as_it_was(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Commands run in-process configure logging for the whole process; each test starts over.

    A logger cached under one configuration keeps its processors when a later `configure`
    replaces them, so `capture_logs` would never see it: nothing is cached in tests, and the
    root handlers (whose stream may be a closed capture) are put back after each test.
    """
    configure = structlog.configure

    def uncached(**settings: Any) -> None:
        configure(**{**settings, "cache_logger_on_first_use": False})

    monkeypatch.setattr(structlog, "configure", uncached)
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    # `configure` also quiets the SDKs' loggers; a later test may want to hear them.
    named = {
        name: (lg.level, lg.propagate, lg.handlers[:], lg.disabled)
        for name, lg in logging.root.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lg in list(logging.root.manager.loggerDict.items()):
        if isinstance(lg, logging.Logger) and name in named:
            lg_level, lg.propagate, lg.handlers[:], lg.disabled = named[name]
            lg.setLevel(lg_level)  # through setLevel: it clears the enabled-for caches
    configure(**{**config, "cache_logger_on_first_use": False})


@pytest.fixture(scope="session")
def model_root() -> Path:
    """The project's NLU model, trained only when its training data changed since last time."""
    from nlu.train import ensure_model

    root = Path(os.environ.get("SWITCHBOARD_TEST_MODEL", "var/models/nlu"))
    ensure_model(root)
    return root


@pytest.fixture(scope="session")
def loaded_understander(model_root: Path) -> Understander:
    from nlu.pipeline import load

    return load(model_root)


def forget_names(model: Understander) -> None:
    """Give the model back its default service and catalog names."""
    from nlu.patterns import DEFAULT_CATALOG, DEFAULT_SERVICES

    model.set_services(DEFAULT_SERVICES)
    set_catalog = getattr(model, "set_catalog", None)
    if callable(set_catalog):
        set_catalog(DEFAULT_CATALOG)


@pytest.fixture
def understander(loaded_understander: Understander) -> Iterator[Understander]:
    """The trained model, loaded once, with the default service and catalog names.

    An app gives the model its database's service and catalog names (module-scoped apps
    use `loaded_understander` and teach it too); the next test's database has others.
    """
    forget_names(loaded_understander)
    yield loaded_understander
    forget_names(loaded_understander)


def make_settings(database_url: str, model_root: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "nlu_model_path": model_root,
        "log_format": "console",
        "log_level": "WARNING",
        "secret_key": "test-secret-key-0123456789abcdef",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]


@pytest.fixture
def settings(tmp_path: Path, model_root: Path) -> Settings:
    """Embedded settings on a fresh SQLite file."""
    return make_settings(f"sqlite:///{tmp_path}/switchboard.db", model_root)


async def prepare_database(settings: Settings, *, demo: bool = True) -> None:
    """Migrate to head and load the demo directory."""
    from bot.demo import seed_demo
    from store.db import create_engine, session_factory
    from store.migrate import upgrade_engine
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        await upgrade_engine(engine)
        if demo:
            async with UnitOfWork(session_factory(engine)) as uow:
                await seed_demo(uow)
                await uow.commit()
    finally:
        await engine.dispose()


@pytest.fixture
async def demo_settings(settings: Settings) -> Settings:
    """Embedded settings on a migrated database with the demo directory loaded."""
    await prepare_database(settings)
    return settings


# -- PostgreSQL and Redis ------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    dsn = urlunsplit(parts._replace(scheme="postgresql"))
    conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for this test, dropped afterwards."""
    admin = os.environ.get(PG_ENV)
    if not admin:
        missing_service(f"PostgreSQL ({PG_ENV})")
        return
    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(admin, f'CREATE DATABASE "{name}"')
    except Exception as e:
        missing_service(f"PostgreSQL at {PG_ENV} ({type(e).__name__}: {e})")
        return
    try:
        yield _with_database(admin, name)
    finally:
        await _admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_target() -> AsyncIterator[tuple[str, str]]:
    """A Redis URL and a key prefix no other test uses; the keys are removed afterwards."""
    from redis.asyncio import Redis

    url = os.environ.get(REDIS_ENV)
    if not url:
        missing_service(f"Redis ({REDIS_ENV})")
        return
    prefix = f"sbtest:{uuid.uuid4().hex[:12]}:"
    client = Redis.from_url(url, socket_connect_timeout=5)
    try:
        await client.ping()
    except Exception as e:
        await client.aclose()
        missing_service(f"Redis at {REDIS_ENV} ({type(e).__name__}: {e})")
        return
    try:
        yield url, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def scaled_settings(pg_url: str, redis_target: tuple[str, str], model_root: Path) -> Settings:
    """Scaled settings (PostgreSQL + Redis), migrated, with the demo directory."""
    url, prefix = redis_target
    s = make_settings(pg_url, model_root, redis_url=url, redis_prefix=prefix)
    await prepare_database(s)
    return s


@pytest.fixture(params=["embedded", pytest.param("scaled", marks=pytest.mark.integration)])
def any_settings(request: pytest.FixtureRequest) -> Settings:
    """The same test in both modes: embedded SQLite, and PostgreSQL + Redis (demo data in)."""
    name = "demo_settings" if request.param == "embedded" else "scaled_settings"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a connection outside 127.0.0.1."""
    import socket

    real = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("/"):
            raise OSError(f"network access to {host} is not allowed in tests")
        return real(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)


# -- hostile-input scoreboard ------------------------------------------------------------------
# The fuzz and security tests add what they observed here; the run ends with one table and
# fails when any figure is not zero. Tests record measured counts, never constants.

SCOREBOARD_FIGURES = (
    "forged accepted",
    "lost",
    "duplicate tickets",
    "duplicate sends",
    "5xx",
    "approvals violated",
    "secrets in logs",
)


class Scoreboard:
    """Counters of hostile-input failures, and how many probes each figure is based on."""

    def __init__(self) -> None:
        self.failures = dict.fromkeys(SCOREBOARD_FIGURES, 0)
        self.probes = dict.fromkeys(SCOREBOARD_FIGURES, 0)

    def record(self, figure: str, *, probes: int, failures: int) -> None:
        """Add `probes` attempts at `figure`, of which `failures` went wrong."""
        if figure not in self.failures:
            raise KeyError(f"unknown scoreboard figure {figure!r}")
        self.probes[figure] += probes
        self.failures[figure] += failures

    @property
    def used(self) -> bool:
        return any(self.probes.values())

    @property
    def clean(self) -> bool:
        return not any(self.failures.values())


_SCOREBOARD = Scoreboard()


@pytest.fixture
def scoreboard() -> Scoreboard:
    """The run's hostile-input counters (see `pytest_terminal_summary`)."""
    return _SCOREBOARD


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    if not _SCOREBOARD.used:
        return
    terminalreporter.section("hostile input")
    terminalreporter.write_line(f"{'figure':<22}{'failures':>10}{'probes':>10}")
    for figure in SCOREBOARD_FIGURES:
        terminalreporter.write_line(
            f"{figure:<22}{_SCOREBOARD.failures[figure]:>10}{_SCOREBOARD.probes[figure]:>10}"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SCOREBOARD.used and not _SCOREBOARD.clean and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
