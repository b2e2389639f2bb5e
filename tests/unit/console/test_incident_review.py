"""The end of a major incident: the record closes once and one review is opened."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from channels.conversation import Address
from handlers.cancellation import cancel
from handlers.context import HandlerContext
from handlers.incident_review import major_resolved
from handlers.incidents import resolve
from handlers.major_incidents import swarm_on_p1
from nlu.types import IntentName, Understanding
from store.db import SessionFactory
from store.enums import Priority, Status, TicketKind
from store.models import Ticket
from store.uow import UnitOfWork

NOW = datetime(2027, 1, 5, 9, tzinfo=UTC)


async def test_a_review_opens_once_and_only_for_a_resolved_major(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        bob = await uow.people.by_email("bob@example.com")
        erin = await uow.people.by_email("erin@example.com")
        assert bob is not None
        assert erin is not None
        plain = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="printer", requester=bob, status=Status.RESOLVED
        )
        outage = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="VPN down", requester=bob, priority=Priority.P1
        )
        major = await uow.major_incidents.declare(outage, by_id=bob.id, lead_id=erin.id, at=NOW)
        major.swarm_channel = "C0SWARM"
        ctx = HandlerContext(
            uow=uow,
            person=bob,
            address=Address(channel="console", conversation="console", user=str(bob.id)),
            now=NOW,
        )
        assert await major_resolved(ctx, plain) is None  # not a major incident
        assert await major_resolved(ctx, outage) is None  # not resolved yet
        assert major.open

        outage.status = Status.RESOLVED
        review = await major_resolved(ctx, outage)
        assert review is not None
        assert review.kind is TicketKind.PROBLEM
        assert review.assignee_id == erin.id
        assert review.title == f"Post-incident review of {outage.ref}: VPN down"
        assert not major.open
        assert [p.ref for p in await uow.problems.incidents(review)] == [outage.ref]
        assert await major_resolved(ctx, outage) is None  # never a second review
        swarm = [o for o in ctx.outgoing if o.address and o.address.conversation == "C0SWARM"]
        assert len(swarm) == 1
        assert any(o.topic == "major_incident" for o in ctx.outgoing)
        assert any(o.person_id == erin.id for o in ctx.outgoing)
        await uow.commit()


async def _major(uow: UnitOfWork, title: str) -> tuple[HandlerContext, Ticket]:
    bob = await uow.people.by_email("bob@example.com")
    erin = await uow.people.by_email("erin@example.com")
    assert bob is not None
    assert erin is not None
    outage = await uow.tickets.create(
        kind=TicketKind.INCIDENT, title=title, requester=bob, priority=Priority.P1
    )
    await uow.major_incidents.declare(outage, by_id=bob.id, lead_id=erin.id, at=NOW)
    ctx = HandlerContext(
        uow=uow,
        person=bob,
        address=Address(channel="slack", conversation="D0BOB", user="U0BOB"),
        now=NOW,
        text="yes",
    )
    return ctx, outage


async def test_chat_resolve_and_cancel_go_through_the_same_door(factory: SessionFactory) -> None:
    nlu = Understanding(text="yes", intent=IntentName.AFFIRM, confidence=1.0)
    async with UnitOfWork(factory) as uow:
        ctx, outage = await _major(uow, "VPN down")
        await resolve(nlu, replace(ctx, params={"ref": outage.ref}, via_action=True))
        assert outage.status is Status.RESOLVED
        record = await uow.major_incidents.for_ticket(outage.id)
        assert record is not None
        assert not record.open
        [review] = await uow.problems.problems_of(outage)
        assert review.title.startswith("Post-incident review of")

        ctx, mistake = await _major(uow, "Mail down (it was not)")
        await cancel(nlu, replace(ctx, params={"ref": mistake.ref}, via_action=True))
        assert mistake.status is Status.CANCELLED
        record = await uow.major_incidents.for_ticket(mistake.id)
        assert record is not None
        assert not record.open  # the swarm stands down
        assert await uow.problems.problems_of(mistake) == []  # and nothing to review
        assert any(o.topic == "major_incident" for o in ctx.outgoing)
        await uow.commit()


async def test_a_p1_incident_opens_a_swarm_by_itself_once(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        bob = await uow.people.by_email("bob@example.com")
        erin = await uow.people.by_email("erin@example.com")
        assert bob is not None
        assert erin is not None
        ctx = HandlerContext(
            uow=uow,
            person=bob,
            address=Address(channel="console", conversation="console", user=str(bob.id)),
            now=NOW,
        )
        minor = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="slow wifi", requester=bob, priority=Priority.P2
        )
        assert not await swarm_on_p1(ctx, minor)
        outage = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="payroll down", requester=bob, priority=Priority.P1
        )
        outage.assignee_id = erin.id
        assert await swarm_on_p1(ctx, outage)
        record = await uow.major_incidents.for_ticket(outage.id)
        assert record is not None
        assert record.open
        assert record.lead_id == erin.id
        assert not await swarm_on_p1(ctx, outage)  # one swarm per incident
        await uow.commit()
