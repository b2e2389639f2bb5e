"""The console's actions on real tickets: who may do what, what is logged, who is told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from channels.conversation import Address
from handlers import console
from handlers.agent import NotAllowedError
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.incidents import report_incident
from nlu.types import IntentName, Understanding
from store.console import UNASSIGNED, QueueFilter
from store.db import SessionFactory
from store.enums import ChangeType, Decision, Priority, Status, TicketKind
from store.models import OutboxMessage, Ticket
from store.uow import UnitOfWork

TELEGRAM = Address(channel="telegram", conversation="5550101", user="5550101")


async def raise_incident(factory: SessionFactory, text: str = "my printer is jammed") -> str:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        assert alice is not None
        ctx = HandlerContext(
            uow=uow,
            person=alice,
            address=TELEGRAM,
            now=datetime.now(UTC),
            text=text,
            params={"deflection_declined": "1"},
        )
        await report_incident(
            Understanding(text=text, intent=IntentName.REPORT_INCIDENT, confidence=0.95), ctx
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        t = (await uow.session.scalars(select(Ticket).order_by(Ticket.id.desc()))).first()
        assert t is not None
        return t.ref


async def act(
    factory: SessionFactory, who: str, ref: str, step: str, *args: object
) -> list[OutboxMessage]:
    """Run one console action as `who` and return the outbox rows it queued."""
    from bot.delivery import add_outgoing

    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email(who)
        ticket = await uow.tickets.by_ref(ref)
        assert person is not None
        assert ticket is not None
        ctx = HandlerContext(
            uow=uow,
            person=person,
            address=Address(channel="console", conversation="console", user=str(person.id)),
            now=datetime.now(UTC),
        )
        result = getattr(console, step)(ticket, *args, ctx)
        if hasattr(result, "__await__"):
            await result
        rows = await add_outgoing(
            uow, ctx.outgoing, topics=lambda _: [], exclude=None, inbox_id=None
        )
        await uow.commit()
        return rows


async def events(factory: SessionFactory, ref: str) -> list[tuple[str, dict[str, object]]]:
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        return [(e.action, e.detail) for e in await uow.tickets.events(t.id)]


async def test_take_answer_note_hold_resolve(factory: SessionFactory) -> None:
    ref = await raise_incident(factory)

    told = await act(factory, "bob@example.com", ref, "take")
    assert [r.platform for r in told] == ["telegram"]

    told = await act(factory, "bob@example.com", ref, "answer", "Please try turning it off and on")
    [reply] = told
    assert reply.address["conversation"] == "5550101"
    assert "Please try turning it off and on" in reply.reply["text"]
    assert reply.reply["human"] is True

    told = await act(factory, "bob@example.com", ref, "note", "Printer is out of warranty")
    assert told == []

    await act(factory, "bob@example.com", ref, "put_on_hold", "waiting for the part")
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        assert t.status is Status.ON_HOLD
        assert t.responded_at is not None

    told = await act(factory, "bob@example.com", ref, "resolve", "Replaced the roller")
    assert "resolved by Bob Agent: Replaced the roller" in told[0].reply["text"]
    # The bot's notice of an action, not a person's answer: no HUMAN_AGENT tag for it.
    assert told[0].reply["human"] is False
    actions = [a for a, _ in await events(factory, ref)]
    assert actions[-5:] == ["assigned", "reply", "note", "status", "resolved"]
    note = next(d for a, d in await events(factory, ref) if a == "note")
    assert note["internal"] is True

    with pytest.raises(LifecycleError):
        await act(factory, "bob@example.com", ref, "resolve", "again")


async def test_requester_cannot_work_tickets(factory: SessionFactory) -> None:
    ref = await raise_incident(factory)
    with pytest.raises(NotAllowedError):
        await act(factory, "alice@example.com", ref, "take")
    with pytest.raises(console.EmptyTextError):
        await act(factory, "bob@example.com", ref, "answer", "   ")


async def test_priority_needs_a_reason_and_moves_the_clock(factory: SessionFactory) -> None:
    ref = await raise_incident(factory)
    with pytest.raises(console.EmptyTextError):
        await act(factory, "bob@example.com", ref, "reprioritise", Priority.P1, " ")
    await act(factory, "bob@example.com", ref, "reprioritise", Priority.P1, "CFO presents")
    [(_, detail)] = [e for e in await events(factory, ref) if e[0] == "priority"]
    assert detail["reason"] == "CFO presents"
    assert detail["to"] == "P1"


async def test_queue_puts_unassigned_first(factory: SessionFactory) -> None:
    first = await raise_incident(factory, "printer jammed")
    second = await raise_incident(factory, "monitor flickers")
    await act(factory, "bob@example.com", first, "take")
    async with UnitOfWork(factory) as uow:
        refs = [t.ref for t in await uow.console.queue(QueueFilter())]
        assert refs.index(second) < refs.index(first)
        bob = await uow.people.by_email("bob@example.com")
        assert bob is not None
        mine = await uow.console.queue(QueueFilter(assignee=bob.id))
        assert [t.ref for t in mine] == [first]
        nobody = await uow.console.queue(QueueFilter(assignee=UNASSIGNED))
        assert first not in [t.ref for t in nobody]
        assert await uow.console.count(QueueFilter(channel="telegram")) == 2
        loads = {g.name: (g.open, g.unassigned) for g in await uow.console.group_loads()}
        assert sum(n for n, _ in loads.values()) == 2
        assert sum(u for _, u in loads.values()) == 1
        assert await uow.console.count(QueueFilter(channel="slack")) == 0
        taken = await uow.tickets.by_ref(first)
        assert taken is not None
        timeline = await uow.console.timeline(taken)
        assert [e.action for e in timeline if e.kind == "event"][0] == "created"
        assert any(e.kind == "sent" for e in timeline)


async def test_nobody_approves_their_own_change(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        carol = await uow.people.by_email("carol@example.com")
        assert carol is not None
        change = await uow.tickets.create(
            kind=TicketKind.CHANGE,
            title="restart mail",
            requester=carol,
            status=Status.AWAITING_APPROVAL,
            change_type=ChangeType.NORMAL,
            planned_start=datetime.now(UTC) + timedelta(days=1),
        )
        ref = change.ref
        await uow.commit()
    with pytest.raises(NotAllowedError):
        await act(factory, "carol@example.com", ref, "decide", Decision.APPROVED, "")
    async with UnitOfWork(factory) as uow:
        frank = await uow.people.by_email("frank@example.com")
        assert frank is not None
        assert [t.ref for t in await uow.console.awaiting_decision(frank.id)] == [ref]
    await act(factory, "frank@example.com", ref, "decide", Decision.APPROVED, "")
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        assert t.status is Status.APPROVED
        assert await uow.console.awaiting_decision(frank.id) == []
