"""The embedded engine: statements on the event loop's thread, a waiting `BEGIN` on the driver's."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine, create_reader, normalise_database_url, snapshot_reader


def _threads_of_statements(engine: AsyncEngine) -> list[tuple[str, int]]:
    """Filled with each statement's first word and the thread that ran it, as they run."""
    ran: list[tuple[str, int]] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # sqlite3 calls the trace callback on the thread that runs the statement.
        raw = dbapi_connection._connection._conn
        raw.set_trace_callback(lambda sql: ran.append((sql.split()[0], threading.get_ident())))

    return ran


def _count_turns(every: float) -> tuple[list[int], asyncio.Task[None]]:
    """A task that counts the turns it gets on the loop, sleeping `every` between them."""
    turns = [0]

    async def counting() -> None:
        while True:
            turns[0] += 1
            await asyncio.sleep(every)

    return turns, asyncio.create_task(counting())


async def test_statements_and_a_free_begin_run_on_the_loop_thread(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/inline.db")
    ran = _threads_of_statements(engine)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        await engine.dispose()
    loop_thread = threading.get_ident()
    threads = {sql: thread for sql, thread in ran if not sql.startswith("PRAGMA")}
    assert threads["INSERT"] == threads["SELECT"] == threads["COMMIT"] == loop_thread
    # No other connection held the write lock: BEGIN did not need the driver's thread.
    assert threads["BEGIN"] == loop_thread


async def test_a_begin_behind_another_process_lock_waits_on_the_driver_thread(
    tmp_path: Path,
) -> None:
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    ran = _threads_of_statements(engine)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    ticks, alive = _count_turns(every=0.01)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        # Another process takes the write lock and keeps it for a while.
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        ran.clear()
        started = ticks[0]
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            patience = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        # The loop went on while BEGIN waited, and the wait did not fail.
        assert ticks[0] - started >= 10
        assert patience == 30000  # the busy timeout the attempt set aside is back
        loop_thread = threading.get_ident()
        begins = [thread for sql, thread in ran if sql == "BEGIN"]
        # One attempt on the loop's thread that found the lock taken, then the wait.
        assert begins[0] == loop_thread
        assert begins[-1] != loop_thread
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
    finally:
        alive.cancel()
        other.close()
        await engine.dispose()


async def test_other_tasks_get_turns_while_a_transaction_runs(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/turns.db")
    turns_seen: list[int] = []
    turns, other = _count_turns(every=0)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            start = turns[0]
            for i in range(20):
                await conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
            turns_seen.append(turns[0] - start)
    finally:
        other.cancel()
        await engine.dispose()
    # The web routes' tasks run between the statements, not only after the commit.
    assert turns_seen[0] >= 20


async def test_the_reader_runs_on_the_loop_thread_past_an_open_write(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/read.db"
    writer = create_engine(url)
    reader = create_reader(url)
    assert reader is not None
    ran = _threads_of_statements(reader)
    try:
        async with writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with writer.begin() as w:
            # The writer holds the write lock; a read still answers with the last commit.
            await w.execute(text("INSERT INTO t VALUES (2)"))
            async with reader.connect() as r:
                assert (await r.execute(text("SELECT count(*) FROM t"))).scalar() == 1
                with pytest.raises(OperationalError):
                    await r.execute(text("INSERT INTO t VALUES (3)"))
        async with reader.connect() as r:
            assert (await r.execute(text("SELECT count(*) FROM t"))).scalar() == 2
        assert ran
        assert {thread for _, thread in ran} == {threading.get_ident()}
    finally:
        await writer.dispose()
        await reader.dispose()


@pytest.mark.integration
async def test_postgresql_reads_see_one_snapshot_and_cannot_write(pg_url: str) -> None:
    url, args = normalise_database_url(pg_url)
    writer = create_engine(url, connect_args=args)
    reader = snapshot_reader(writer)
    assert reader is not None
    try:
        async with writer.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x int)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with reader.connect() as read:
            first = (await read.execute(text("SELECT x FROM t"))).scalar_one()
            # A commit made between two statements of one read is not seen by the second.
            async with writer.begin() as conn:
                await conn.execute(text("UPDATE t SET x = 2"))
            second = (await read.execute(text("SELECT x FROM t"))).scalar_one()
            with pytest.raises(DBAPIError, match="read-only"):
                await read.execute(text("UPDATE t SET x = 3"))
        assert (first, second) == (1, 1)
        # The writers' connections, lent back to the same pool, are not left read-only.
        async with writer.begin() as conn:
            await conn.execute(text("UPDATE t SET x = 4"))
            assert (await conn.execute(text("SELECT x FROM t"))).scalar_one() == 4
    finally:
        await writer.dispose()


async def test_inline_cursors_keep_the_driver_errors_and_rows(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/cursor.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)"))
            # Many parameter sets: one executemany on sqlite3's own cursor.
            await conn.execute(
                text("INSERT INTO t VALUES (:x, :y)"), [{"x": 1, "y": "a"}, {"x": 2, "y": "b"}]
            )
            rows = (await conn.execute(text("SELECT x, y FROM t ORDER BY x"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
            cursor = (await conn.get_raw_connection()).dbapi_connection.cursor()
            assert type(cursor).__name__ == "InlineCursor"
            cursor.close()
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t VALUES (1, 'again')"))
            await conn.rollback()
            with pytest.raises(OperationalError):
                await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()


def test_the_mappers_are_configured_when_the_store_is_imported() -> None:
    # In a fresh interpreter: the first ORM query of a process must not configure them.
    check = (
        "import store.uow\n"
        "from store.models import Base\n"
        "left = [m.class_.__name__ for m in Base.registry.mappers if not m.configured]\n"
        "assert not left, left\n"
    )
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)  # noqa: S603
    assert done.returncode == 0, done.stderr
