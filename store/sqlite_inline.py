"""SQLite connections that run their statements on the event loop's thread.

Apart from `store.db` so that a PostgreSQL deployment never loads sqlite3 or aiosqlite.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

_STATEMENTS = frozenset({"execute", "executemany", "executescript", "commit", "rollback"})
"""The driver calls after which an inline connection gives the event loop a turn."""


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs its statements on the event loop's own thread.

    aiosqlite hands every call (execute, fetch, commit) to a thread of its own and back: two
    thread wake-ups and two GIL hand-offs per statement. On a busy machine each costs
    milliseconds, and a message takes some twenty statements, so the worker spent most of
    its time waiting for its own database while using a fraction of a core. A statement on
    the local file takes microseconds, far less than the hand-off. Only a `BEGIN` that finds
    another process holding the write lock goes to the thread: it waits there (up to the
    busy timeout), and that wait must not stop the event loop.
    """

    gives_turns = True
    """Whether a statement is followed by a turn for the event loop's other tasks."""

    def begin_at_once(self, raw: sqlite3.Cursor, args: tuple[Any, ...]) -> bool:
        """Run `BEGIN` on this thread if it needs no wait; False when it must wait."""
        return _begin_at_once(raw, args)

    async def _run_on_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await super()._execute(fn, *args)  # type: ignore[no-untyped-call]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if args and _is_begin(args[0]):
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        result = fn(*args, **kwargs)
        if fn.__name__ in _STATEMENTS:
            # Still a turn for the other tasks after each statement, as the thread gave: a
            # worker transaction must not keep the web routes from the loop until it
            # commits. Not after opening a cursor, fetching or closing it: those are three
            # more turns a statement, each resuming the whole stack of awaiting coroutines.
            await asyncio.sleep(0)
        return result


class InlineReadConnection(InlineConnection):
    """A reader's connection: every statement on the loop's thread, without a turn between.

    A WAL reader takes no lock a writer holds, so nothing it runs waits for another
    process: not even `BEGIN` needs the thread. An API request under load then no longer
    waits a whole turn of a busy event loop for each of its few statements; what it reads
    is one ticket page or a token, microseconds each.
    """

    gives_turns = False

    def begin_at_once(self, raw: sqlite3.Cursor, args: tuple[Any, ...]) -> bool:
        """Never: a reader's `BEGIN` waits for no lock and goes through `_run_on_thread`.

        That runs it on this thread too, and is the one await an engine's execution asks
        of the driver before its first statement.
        """
        return False

    async def _run_on_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _is_begin(operation: Any) -> bool:
    return isinstance(operation, str) and operation.lstrip()[:5].upper() == "BEGIN"


def _begin_at_once(raw: sqlite3.Cursor, args: tuple[Any, ...]) -> bool:
    """Run `BEGIN` on this thread if it needs no wait; False when the lock is taken.

    Almost always no other process holds the write lock, and the thread's round trip
    (a hand-off there and back, each waiting for the GIL) cost more than the rest of a short
    transaction's statements. With the busy timeout at zero the attempt cannot block: a
    taken lock fails at once, and the caller waits for it on the driver's thread instead.
    """
    connection = raw.connection
    (patience,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute(*args)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF not in _LOCKED:
            raise
        return False
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(patience)}")
    return True


_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class InlineCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's cursor over an inline connection, driving sqlite3's own cursor directly.

    The asyncio adapter awaits every cursor call (open, execute, fetch, close), and each
    await leaves SQLAlchemy's greenlet for the event loop and comes back: four round trips
    and as many coroutines for a statement whose work takes microseconds on this thread.
    Here those calls are plain calls; the greenlet is left once per statement, for the turn
    the connection gives the other tasks, and for a `BEGIN` that must wait for a lock.
    """

    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        raw = self._connection._connection
        if raw is None:
            adapt_connection._handle_exception(ValueError("Connection closed"))
        # sqlite3's own cursor where the adapter expects an awaitable one (see `_raw`).
        self._cursor = raw.cursor()
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    @property
    def _raw(self) -> sqlite3.Cursor:
        return cast(sqlite3.Cursor, self._cursor)

    @property
    def _inline(self) -> InlineConnection:
        return cast(InlineConnection, self._connection)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        """Run one statement; its rows are read at once, as the asyncio adapter does."""
        args = (operation,) if parameters is None else (operation, parameters)
        raw = self._raw
        try:
            if _is_begin(operation):
                if not self._inline.begin_at_once(raw, args):
                    # Another process holds the write lock: wait it out on the driver's
                    # thread, up to the busy timeout, while the loop goes on.
                    await_(self._inline._run_on_thread(raw.execute, *args))
            else:
                raw.execute(*args)
                if raw.description:
                    self._rows = collections.deque(raw.fetchall())
                if self._inline.gives_turns:
                    await_(asyncio.sleep(0))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        """Run one statement for each set of parameters, then give the turn."""
        try:
            self._raw.executemany(operation, seq_of_parameters)
            if self._inline.gives_turns:
                await_(asyncio.sleep(0))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def close(self) -> None:
        """Close sqlite3's cursor (it holds no rows: they were read with the statement)."""
        self._rows.clear()
        self._raw.close()


class InlineAdaptedConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's connection adapter whose plain cursors are `InlineCursor`s."""

    __slots__ = ()
    _cursor_cls = InlineCursor  # type: ignore[assignment]


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI shim, adapting inline connections with `InlineAdaptedConnection`.

    Given to the engine as its `module`; a connection made any other way (an in-memory
    database, a URI) keeps the shim's own adapter.
    """

    def connect(self, *arg: Any, **kw: Any) -> Any:
        """Connect as the shim does, keeping inline connections' cursors on this thread."""
        adapted = super().connect(*arg, **kw)
        if isinstance(adapted._connection, InlineConnection):
            return InlineAdaptedConnection(self, adapted._connection)
        return adapted


def inline_dbapi() -> InlineDBAPI:
    """A DBAPI module for `create_async_engine(module=...)` on SQLite."""
    return InlineDBAPI(aiosqlite, sqlite3)


def inline_creator(
    url: str,
    connect_args: dict[str, Any],
    *,
    connection: type[InlineConnection] = InlineConnection,
) -> Callable[[], Awaitable[aiosqlite.Connection]] | None:
    """SQLAlchemy's `async_creator` for `InlineConnection` on a plain file; else None."""
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
