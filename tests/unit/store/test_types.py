"""UTC columns: the text SQLite stores, and aware datetimes back on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

from store.db import create_engine
from store.types import UTCDateTime

_META = MetaData()
_STAMPS = Table(
    "stamps",
    _META,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
    Column("plain", DateTime()),
)


async def test_sqlite_stores_the_text_of_sqlalchemys_own_datetime(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/types.db")
    east = timezone(timedelta(hours=8))
    given = [
        datetime(2026, 12, 6, 8, 43, 7, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 16, 43, 7, tzinfo=east),  # no microseconds, another zone
        datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    ]
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_META.create_all)
            for i, at in enumerate(given):
                naive = at.astimezone(UTC).replace(tzinfo=None)
                await conn.execute(insert(_STAMPS), {"id": i, "at": at, "plain": naive})
            stored = (await conn.execute(text("SELECT at, plain FROM stamps ORDER BY id"))).all()
            back = (await conn.execute(select(_STAMPS.c.at).order_by(_STAMPS.c.id))).scalars()
            found = list(back)
            # Compared as text in SQL: the same instant must be the same string.
            hits = (
                await conn.execute(select(_STAMPS.c.id).where(_STAMPS.c.at == given[1]))
            ).scalars()
            matched = list(hits)
    finally:
        await engine.dispose()
    assert [a for a, _ in stored] == [p for _, p in stored]
    assert stored[1][0] == "2026-12-06 08:43:07.000000"
    assert found == given
    assert all(f.tzinfo is UTC for f in found if f is not None)
    assert matched == [1]


async def test_sqlite_refuses_a_naive_datetime(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/naive.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_META.create_all)
            with pytest.raises(StatementError, match="naive"):
                await conn.execute(insert(_STAMPS), {"id": 1, "at": datetime(2026, 1, 1)})
    finally:
        await engine.dispose()


async def test_sqlite_reads_text_written_by_hand_as_aware_utc(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/hand.db")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_META.create_all)
            await conn.execute(
                text(
                    "INSERT INTO stamps (id, at) VALUES"
                    " (1, '2026-03-04 05:06:07'), (2, '2026-03-04T13:06:07+08:00'), (3, NULL),"
                    " (4, '2026-03-04 05:06:07.000250'), (5, '2026-03-04 13:06:07.000250+08:00')"
                )
            )
            found = list(
                (await conn.execute(select(_STAMPS.c.at).order_by(_STAMPS.c.id))).scalars()
            )
    finally:
        await engine.dispose()
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    later = moment.replace(microsecond=250)
    assert found == [moment, moment, None, later, later]
    assert found[1] is not None
    assert found[1].tzinfo is UTC
    assert all(f.tzinfo is UTC for f in found if f is not None)
