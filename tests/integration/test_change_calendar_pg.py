"""The change calendar's range query on PostgreSQL: overlap, half-open ends, refused changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.api_calendar import calendar_between
from store.changes import FreezeWindow
from store.db import create_engine, normalise_database_url, session_factory
from store.enums import ChangeType, Status, TicketKind
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

pytestmark = pytest.mark.integration

DAY = datetime(2027, 3, 6, tzinfo=UTC)


def at(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


async def test_the_calendar_query_on_postgresql(pg_url: str) -> None:
    url, connect_args = normalise_database_url(pg_url)
    engine = create_engine(url, connect_args=connect_args)
    try:
        await upgrade_engine(engine)
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            alice = await uow.people.create(name="Alice", email="alice@example.com")
            windows = {
                "before": (at(-3), at(0), Status.APPROVED),  # ends as the range starts
                "across-start": (at(-1), at(1), Status.APPROVED),
                "inside": (at(2), at(3), Status.IN_PROGRESS),
                "refused": (at(2), at(3), Status.REJECTED),
                "across-end": (at(23), at(25), Status.APPROVED),
                "after": (at(24), at(26), Status.APPROVED),  # starts as the range ends
            }
            refs = {}
            for title, (start, end, status) in windows.items():
                t = await uow.tickets.create(
                    kind=TicketKind.CHANGE,
                    title=title,
                    requester=alice,
                    status=status,
                    change_type=ChangeType.NORMAL,
                    planned_start=start,
                    planned_end=end,
                )
                refs[title] = t.ref
            await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="not a change",
                requester=alice,
                planned_start=at(2),
                planned_end=at(3),
            )
            uow.session.add(
                FreezeWindow(
                    name="launch",
                    starts_at=at(20),
                    ends_at=at(30),
                    timezone="Europe/Berlin",
                    services=["Payroll"],
                )
            )
            uow.session.add(
                FreezeWindow(name="old", starts_at=at(-10), ends_at=at(0), services=["CRM"])
            )
            await uow.commit()
        async with UnitOfWork(factory) as uow:
            cal = await calendar_between(uow, at(0), at(24))
        assert [c.title for c in cal.changes] == ["across-start", "inside", "across-end"]
        assert cal.changes[1].status is Status.IN_PROGRESS
        assert cal.changes[0].start == at(-1)
        assert cal.changes[0].start.tzinfo is not None
        assert [f.name for f in cal.freezes] == ["launch"]
        assert cal.freezes[0].start == at(20)
        shape = cal.model_dump(mode="json", by_alias=True)
        assert set(shape) == {"from", "to", "changes", "freezes"}
        assert shape["changes"][0]["ref"] == refs["across-start"]
    finally:
        await engine.dispose()
