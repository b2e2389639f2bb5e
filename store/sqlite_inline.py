"""SQLite connections that run their statements on the event loop's thread.

Apart from `store.db` so that a PostgreSQL deployment never loads sqlite3 or aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

_STATEMENTS = frozenset({"execute", "executemany", "executescript", "commit", "rollback"})
"""The driver calls after which an inline connection gives the event loop a turn."""


class InlineConnection(aiosqlite.Connection):
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


class InlineReadConnection(InlineConnection):
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
