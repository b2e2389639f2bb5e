"""The inbox deduplicates deliveries; the outbox leases rows so one reply is sent once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from store.db import SessionFactory
from store.enums import InboxStatus, OutboxStatus, PersonKind, Role, Status, TicketKind
from store.errors import ConflictError
from store.models import InboxEvent, OutboxMessage
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


async def test_a_batch_is_finished_each_row_with_its_intent(factory: SessionFactory) -> None:
    ids = [await insert(factory, f"F{n}") for n in range(4)]
    a, b, c, done = ids
    assert a is not None
    assert b is not None
    assert c is not None
    assert done is not None
    async with UnitOfWork(factory) as uow:
        assert await uow.inbox.finish(done, intent="greet")
        await uow.commit()
    before = utcnow()
    for batch in ({a: "thanks", b: "report_incident", done: "help"}, {c: "greet"}):
        async with UnitOfWork(factory) as uow:
            finished = await uow.inbox.finish_many(batch)
            await uow.commit()
        # The row finished already neither counts nor changes.
        assert finished == len(batch) - (done in batch)
    async with UnitOfWork(factory) as uow:
        rows = {r.id: r for r in await uow.session.scalars(select(InboxEvent))}
    assert {i: rows[i].intent for i in ids} == {
        a: "thanks",
        b: "report_incident",
        c: "greet",
        done: "greet",
    }
    assert {rows[i].status for i in ids} == {InboxStatus.DONE}
    for i in (a, b, c):
        at = rows[i].processed_at
        assert at is not None
        assert at >= before - timedelta(seconds=1)


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
    ids = [await add_reply(factory, f"c{i}") for i in range(5)]

    async def claim() -> list[int]:
        async with UnitOfWork(factory) as uow:
            rows = await uow.outbox.claim(["slack"], limit=5, lease_seconds=60)
            await uow.commit()
            return [r.id for r in rows]

    got = await asyncio.gather(claim(), claim(), claim())
    flat = [i for g in got for i in g]
    assert sorted(flat) == ids


async def test_only_the_heads_of_a_conversation_are_claimed(factory: SessionFactory) -> None:
    ids = [await add_reply(factory, "busy") for _ in range(5)]
    other = await add_reply(factory, "quiet")
    async with UnitOfWork(factory) as uow:
        rows = await uow.outbox.claim(["slack"], limit=3, per_conversation=2)
        await uow.commit()
    # The limit does not let one conversation's backlog crowd out another's reply.
    assert [r.id for r in rows] == [*ids[:2], other]
    async with UnitOfWork(factory) as uow:
        again = await uow.outbox.claim(["slack"], limit=10, per_conversation=2)
        await uow.commit()
    # Later replies wait while earlier ones of their conversation are leased.
    assert ids[2] not in [r.id for r in again]


async def test_a_waiting_head_holds_back_its_conversation_only(factory: SessionFactory) -> None:
    first = await add_reply(factory, "slow")
    await add_reply(factory, "slow")
    other = await add_reply(factory, "fast")
    async with UnitOfWork(factory) as uow:
        rows = await uow.outbox.claim(["slack"], per_conversation=1)
        head = next(r for r in rows if r.id == first)
        assert await uow.outbox.release(
            first, head.attempts, at=utcnow() + timedelta(hours=1), error="429"
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        await uow.outbox.release(other, head.attempts, at=utcnow(), error="")
        again = await uow.outbox.claim(["slack"], per_conversation=3)
        await uow.commit()
    assert [r.id for r in again] == [other]


async def test_a_lapsed_send_is_never_claimed_for_sending(factory: SessionFactory) -> None:
    one = await add_reply(factory)
    two = await add_reply(factory, "c2")
    async with UnitOfWork(factory) as uow:
        rows = await uow.outbox.claim(["slack"], limit=10, lease_seconds=60)
        token = {r.id: r.attempts for r in rows}
        assert await uow.outbox.begin_send(one, token[one], lease_seconds=-1)
        assert await uow.outbox.begin_send(two, token[two], lease_seconds=60)
        assert await uow.outbox.mark_sent(two, token[two], "ts-2")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.outbox.claim(["slack"], limit=10) == []
        lapsed = await uow.outbox.claim_lapsed(["slack"], limit=10)
        await uow.commit()
    assert [r.id for r in lapsed] == [one]
    assert lapsed[0].status is OutboxStatus.SENDING
    # The sender that lost its lease can no longer record anything for the row.
    async with UnitOfWork(factory) as uow:
        assert not await uow.outbox.mark_retry(one, token[one], at=utcnow(), error="late")
        assert await uow.outbox.mark_unknown(one, lapsed[0].attempts, "interrupted")
        await uow.commit()


async def test_a_lapsed_claim_is_taken_over_and_the_old_claim_fenced(
    factory: SessionFactory,
) -> None:
    one = await add_reply(factory)
    async with UnitOfWork(factory) as uow:
        (old,) = await uow.outbox.claim(["slack"], lease_seconds=-1)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        (new,) = await uow.outbox.claim(["slack"])
        await uow.commit()
    assert new.id == one
    assert new.attempts == old.attempts + 1
    async with UnitOfWork(factory) as uow:
        assert not await uow.outbox.begin_send(one, old.attempts, lease_seconds=60)
        assert await uow.outbox.begin_send(one, new.attempts, lease_seconds=60)
        await uow.commit()


async def test_retry_waits_until_due(factory: SessionFactory) -> None:
    one = await add_reply(factory)
    async with UnitOfWork(factory) as uow:
        (row,) = await uow.outbox.claim(["slack"])
        await uow.outbox.begin_send(one, row.attempts, lease_seconds=60)
        await uow.outbox.mark_retry(
            one, row.attempts, at=utcnow() + timedelta(hours=1), error="429"
        )
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


async def add_keyed(factory: SessionFactory, key: str, times: int = 1) -> list[int | None]:
    async with UnitOfWork(factory) as uow:
        rows = [
            uow.outbox.add(
                platform="slack",
                conversation_key="c1",
                address={"channel": "slack", "conversation": "c1"},
                reply={"text": "card"},
                dedup_key=key,
            )
            for _ in range(times)
        ]
        await uow.flush()
        await uow.commit()
        return [r.id for r in rows]


async def test_a_keyed_reply_is_added_once_ever(factory: SessionFactory) -> None:
    first = await add_keyed(factory, "edit:c1:CHG-1:2:approved", times=2)
    assert first[0] is not None
    assert first == [first[0], first[0]]
    again = await asyncio.gather(
        *(add_keyed(factory, "edit:c1:CHG-1:2:approved") for _ in range(5))
    )
    assert again == [[None]] * 5
    other = await add_keyed(factory, "edit:c1:CHG-1:3:rejected")
    assert other[0] is not None
    async with UnitOfWork(factory) as uow:
        counts = await uow.outbox.counts()
    assert counts == {OutboxStatus.PENDING.value: 2}


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


async def test_replies_added_together_get_the_ids_of_their_own_rows(
    factory: SessionFactory,
) -> None:
    await add_reply(factory, "before")  # the table does not start empty
    async with UnitOfWork(factory) as uow:
        rows = [
            uow.outbox.add(
                platform="slack",
                conversation_key=f"c{i}",
                address={"channel": "slack", "conversation": f"c{i}", "user": "U1"},
                reply={"text": f"reply {i}"},
            )
            for i in range(12)
        ]
        await uow.flush()
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        found = await uow.session.execute(select(OutboxMessage.id, OutboxMessage.conversation_key))
        stored = {row[0]: row[1] for row in found}
    assert len({r.id for r in rows}) == 12
    assert [stored[r.id] for r in rows] == [f"c{i}" for i in range(12)]
