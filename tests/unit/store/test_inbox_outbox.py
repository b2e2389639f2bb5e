"""The inbox deduplicates deliveries; the outbox leases rows so one reply is sent once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from store.db import SessionFactory
from store.enums import InboxStatus, OutboxStatus, PersonKind, Role, Status, TicketKind
from store.errors import ConflictError
from store.types import utcnow
from store.uow import UnitOfWork


async def insert(factory: SessionFactory, event_id: str) -> int | None:
    async with UnitOfWork(factory) as uow:
        i = await uow.inbox.insert("slack", event_id, {"kind": "message", "n": event_id})
        await uow.commit()
        return i


async def test_a_redelivered_event_is_recognised(factory: SessionFactory) -> None:
    first = await insert(factory, "Ev1")
    again = await insert(factory, "Ev1")
    other = await insert(factory, "Ev2")
    assert first is not None
    assert again is None
    assert other is not None
    assert other != first


async def test_concurrent_deliveries_make_one_row(factory: SessionFactory) -> None:
    results = await asyncio.gather(*(insert(factory, "EvSame") for _ in range(10)))
    assert sum(1 for r in results if r is not None) == 1
    async with UnitOfWork(factory) as uow:
        assert await uow.inbox.pending_ids() == [r for r in results if r is not None]


async def test_attempts_are_counted_and_done_rows_left_alone(factory: SessionFactory) -> None:
    a = await insert(factory, "A")
    b = await insert(factory, "B")
    assert a is not None
    assert b is not None
    async with UnitOfWork(factory) as uow:
        first = await uow.inbox.start_attempts([a, b])
        assert await uow.inbox.finish(a, intent="greet")
        await uow.commit()
    assert {k: v.deliveries for k, v in first.items()} == {a: 1, b: 1}
    async with UnitOfWork(factory) as uow:
        second = await uow.inbox.start_attempts([a, b])
        await uow.commit()
    assert list(second) == [b]
    assert second[b].deliveries == 2


async def add_reply(factory: SessionFactory, conversation: str = "c1") -> int:
    async with UnitOfWork(factory) as uow:
        row = uow.outbox.add(
            platform="slack",
            conversation_key=conversation,
            address={"channel": "slack", "conversation": conversation, "user": "U1"},
            reply={"text": "hi"},
        )
        await uow.flush()
        await uow.commit()
        return row.id


async def test_a_leased_row_is_not_claimed_twice(factory: SessionFactory) -> None:
    ids = [await add_reply(factory) for _ in range(5)]

    async def claim() -> list[int]:
        async with UnitOfWork(factory) as uow:
            rows = await uow.outbox.claim(["slack"], limit=5, lease_seconds=60)
            await uow.commit()
            return [r.id for r in rows]

    got = await asyncio.gather(claim(), claim(), claim())
    flat = [i for g in got for i in g]
    assert sorted(flat) == ids


async def test_lapsed_lease_is_claimed_again_and_sent_rows_never(factory: SessionFactory) -> None:
    one = await add_reply(factory)
    two = await add_reply(factory)
    async with UnitOfWork(factory) as uow:
        rows = await uow.outbox.claim(["slack"], limit=10, lease_seconds=-1)
        await uow.outbox.mark_sent(two, "ts-2")
        await uow.commit()
    assert [r.id for r in rows] == [one, two]
    async with UnitOfWork(factory) as uow:
        again = await uow.outbox.claim(["slack"], limit=10)
        await uow.commit()
    assert [r.id for r in again] == [one]
    assert [r.attempts for r in again] == [2]


async def test_retry_waits_until_due(factory: SessionFactory) -> None:
    one = await add_reply(factory)
    async with UnitOfWork(factory) as uow:
        await uow.outbox.claim(["slack"])
        await uow.outbox.mark_retry(one, at=utcnow() + timedelta(hours=1), error="429")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.outbox.claim(["slack"]) == []
        counts = await uow.outbox.counts()
    assert counts == {OutboxStatus.PENDING.value: 1}


async def test_platform_filter_and_conversation_filter(factory: SessionFactory) -> None:
    mine = await add_reply(factory, "mine")
    await add_reply(factory, "theirs")
    async with UnitOfWork(factory) as uow:
        assert await uow.outbox.claim(["telegram"]) == []
        rows = await uow.outbox.claim(["slack"], conversations=["mine"])
        await uow.commit()
    assert [r.id for r in rows] == [mine]


async def seed_change(factory: SessionFactory) -> str:
    async with UnitOfWork(factory) as uow:
        p = await uow.people.create(name="R", email="r@example.com", kind=PersonKind.EMPLOYEE)
        t = await uow.tickets.create(
            kind=TicketKind.CHANGE, title="t", requester=p, status=Status.AWAITING_APPROVAL
        )
        await uow.commit()
        return t.ref


async def test_ticket_numbers_per_kind(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        p = await uow.people.create(name="R", email="r@example.com", roles=[Role.REQUESTER])
        refs = [
            (await uow.tickets.create(kind=k, title="t", requester=p)).ref
            for k in (TicketKind.INCIDENT, TicketKind.INCIDENT, TicketKind.CHANGE)
        ]
        await uow.commit()
    assert refs == ["INC-1", "INC-2", "CHG-1"]


async def test_an_update_from_a_stale_read_conflicts(factory: SessionFactory) -> None:
    from sqlalchemy import update

    from store.models import Ticket

    ref = await seed_change(factory)
    async with UnitOfWork(factory) as uow:
        stale = await uow.tickets.by_ref(ref)
        assert stale is not None
        # Another writer commits in between (what READ COMMITTED lets a PostgreSQL reader see).
        await uow.session.execute(
            update(Ticket)
            .where(Ticket.id == stale.id)
            .values(status=Status.APPROVED, version=Ticket.version + 1)
            .execution_options(synchronize_session=False)
        )
        stale.status = Status.REJECTED
        with pytest.raises(ConflictError):
            await uow.commit()
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        assert t.status is Status.AWAITING_APPROVAL


async def test_inbox_status_values(factory: SessionFactory) -> None:
    a = await insert(factory, "dead")
    assert a is not None
    async with UnitOfWork(factory) as uow:
        await uow.inbox.mark_dead(a, "poison")
        await uow.commit()
        assert (await uow.inbox.counts()) == {InboxStatus.DEAD.value: 1}
