"""Engine and session factory for SQLite (embedded) and PostgreSQL (scaled)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
        # Imported here: a PostgreSQL deployment never loads sqlite3 or aiosqlite.
        from store.sqlite_inline import inline_creator, inline_dbapi

        creator = inline_creator(url, args)
        if creator is not None:
            kwargs.update(async_creator=creator, module=inline_dbapi())
    else:
        # No pre-ping: it costs a round trip per transaction; a dropped connection fails
        # that unit of work, which the worker retries.
        kwargs.update(pool_size=10, max_overflow=20, pool_recycle=1800)
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
    from store.sqlite_inline import InlineReadConnection, inline_creator, inline_dbapi

    creator = inline_creator(url, args, connection=InlineReadConnection)
    if creator is not None:
        kwargs.update(async_creator=creator, module=inline_dbapi())
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
