"""Engine and session factory for SQLite (embedded) and PostgreSQL (scaled)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiosqlite
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from store.hotpath import WriteBehindSession

SessionFactory = async_sessionmaker[AsyncSession]


def normalise_database_url(url: str) -> tuple[str, dict[str, object]]:
    """Return an async SQLAlchemy URL and driver connect arguments for `DATABASE_URL`.

    Heroku-style `postgres://` and plain `postgresql://` go to asyncpg, which rejects
    `sslmode`, so that becomes asyncpg's `ssl` argument; `sqlite:///` goes to aiosqlite.
    """
    connect_args: dict[str, object] = {}
    scheme, _, rest = url.partition("://")
    if scheme in {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}:
        scheme = "postgresql+asyncpg"
    elif scheme == "sqlite":
        scheme = "sqlite+aiosqlite"
    url = f"{scheme}://{rest}"
    if scheme == "postgresql+asyncpg":
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        sslmode = query.pop("sslmode", None)
        if sslmode and sslmode not in {"disable", "allow"}:
            connect_args["ssl"] = "require" if sslmode in {"prefer", "require"} else sslmode
        url = urlunsplit(parts._replace(query=urlencode(query)))
    return url, connect_args


def create_engine(
    url: str, *, connect_args: dict[str, Any] | None = None, echo: bool = False
) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and write transactions that lock early.

    Embedded mode runs web, worker and dispatcher against one SQLite file. SQLite's default
    deferred transactions deadlock when two of them read and then both try to write, so every
    transaction starts with `BEGIN IMMEDIATE` and waits on the busy timeout instead.
    """
    args = dict(connect_args or {})
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        args.setdefault("timeout", 30)
        # One connection, shared in turn: SQLite has a single writer anyway, and waiting
        # for the pool is far cheaper than SQLite's sleeping busy handler under contention.
        kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
    else:
        # No pre-ping: it costs a round trip per transaction; a dropped connection fails
        # that unit of work, which the worker retries.
        kwargs.update(pool_size=10, max_overflow=20, pool_recycle=1800)
    creator = _inline_creator(url, args) if url.startswith("sqlite") else None
    if creator is not None:
        kwargs["async_creator"] = creator
    engine = create_async_engine(url, connect_args=args, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def create_reader(url: str, *, connect_args: dict[str, Any] | None = None) -> AsyncEngine | None:
    """On a SQLite file, a second engine for reads alone; None where one engine serves all.

    The writing engine begins every transaction with `BEGIN IMMEDIATE` on its one
    connection, so a read waits for whatever the worker is writing. WAL lets readers see the
    last commit while a write goes on: these connections begin deferred transactions (a
    snapshot, no lock) and are `query_only`, so nothing can write through them by mistake.
    """
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:"):
        return None  # another connection would open another database
    args = dict(connect_args or {})
    args.setdefault("timeout", 30)
    kwargs: dict[str, Any] = {}
    creator = _inline_creator(url, args, connection=_InlineReadConnection)
    if creator is not None:
        kwargs["async_creator"] = creator
    engine = create_async_engine(
        url, connect_args=args, pool_size=4, max_overflow=4, pool_timeout=30, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def snapshot_reader(engine: AsyncEngine) -> AsyncEngine | None:
    """On PostgreSQL, the same pool lent for reads that see one snapshot; else None.

    Under READ COMMITTED each statement sees the commits made before it, so a page that
    reads a ticket and then its tasks can show a task done and the request it resolved still
    new. A read-only REPEATABLE READ transaction sees one moment throughout, at no extra
    round trip: asyncpg opens it with the options in its one `BEGIN`.
    """
    if engine.dialect.name != "postgresql":
        return None
    return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


_STATEMENTS = frozenset({"execute", "executemany", "executescript", "commit", "rollback"})
"""The driver calls after which an inline connection gives the event loop a turn."""


class _InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its statements on the event loop's own thread.

    aiosqlite hands every call (execute, fetch, commit) to a thread of its own and back: two
    thread wake-ups and two GIL hand-offs per statement. On a busy machine each costs
    milliseconds, and a message takes some twenty statements, so the worker spent most of
    its time waiting for its own database while using a fraction of a core. A statement on
    the local file takes microseconds, far less than the hand-off. Only `BEGIN` still goes
    to the thread: it is the statement that may wait (up to the busy timeout) for another
    process's write lock, and that wait must not stop the event loop.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if args and isinstance(args[0], str) and args[0].lstrip()[:5].upper() == "BEGIN":
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        result = fn(*args, **kwargs)
        if fn.__name__ in _STATEMENTS:
            # Still a turn for the other tasks after each statement, as the thread gave: a
            # worker transaction must not keep the web routes from the loop until it
            # commits. Not after opening a cursor, fetching or closing it: those are three
            # more turns a statement, each resuming the whole stack of awaiting coroutines.
            await asyncio.sleep(0)
        return result


class _InlineReadConnection(_InlineConnection):
    """A reader's connection: every statement on the loop's thread, without a turn between.

    A WAL reader takes no lock a writer holds, so nothing it runs waits for another
    process: not even `BEGIN` needs the thread. An API request under load then no longer
    waits a whole turn of a busy event loop for each of its few statements; what it reads
    is one ticket page or a token, microseconds each.
    """

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_creator(
    url: str,
    connect_args: dict[str, Any],
    *,
    connection: type[_InlineConnection] = _InlineConnection,
) -> Callable[[], Awaitable[aiosqlite.Connection]] | None:
    """SQLAlchemy's `async_creator` for `_InlineConnection` on a plain file; else None."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:" or path.startswith("file:") or "?" in path:
        return None
    # Both threads use the connection, one at a time: the pool lends it to one holder.
    args = {**connect_args, "check_same_thread": False}

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(path, **args)
        return connection

    def create() -> Awaitable[aiosqlite.Connection]:
        # SQLAlchemy awaits the connection, which starts its thread and connects.
        return connection(connector, 64)

    return create


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions on `engine` that keep objects readable after commit and batch queued inserts."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=WriteBehindSession)
