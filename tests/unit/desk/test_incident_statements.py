"""The statements a batch of incident reports from new web chat visitors costs.

The worker handles a batch of reports in one unit of work: look-ups whose answer cannot
change within it are made once, and rows every report writes (events, roles) go in
together. These tests fail when a removed statement comes back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from bot.delivery import add_outgoing
from bot.identity import resolve_person
from channels.conversation import Address, Identity
from handlers.context import HandlerContext, Outgoing
from handlers.incidents import report_incident
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory
from store.models import PersonRole, TicketEvent
from store.problems import RecurrenceOffer
from store.uow import UnitOfWork
from tests.unit.desks import load_desk

DESK = """
people:
  - {name: Bob Agent, email: bob@example.com, roles: [agent], groups: [service-desk]}
  - {name: Wei Agent, email: wei@example.com, roles: [agent], language: zh}
  - {name: Erin Agent, email: erin@example.com, roles: [agent]}
groups:
  - {name: service-desk, lead: bob@example.com, default: true}
  - {name: network, lead: erin@example.com, members: [wei@example.com]}
services:
  - {name: VPN, criticality: high, owner_group: network}
"""

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
async def factory(factory: SessionFactory, tmp_path: Path) -> SessionFactory:
    await load_desk(factory, tmp_path, DESK)
    return factory


async def _reports(
    factory: SessionFactory, count: int, *, deliver: bool = False
) -> tuple[list[str], list[Outgoing]]:
    """`count` new visitors report the VPN down in one unit of work; statements and notices.

    `deliver` addresses each report's notices in the unit of work too, as the worker does.
    """
    seen: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def statement(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(" ".join(sql.split()))

    outgoing: list[Outgoing] = []
    event.listen(engine, "before_cursor_execute", statement)
    try:
        async with UnitOfWork(factory) as uow:
            for i in range(count):
                address = Address(channel="webchat", conversation=f"v{i}", user=f"v{i}")
                person = await resolve_person(
                    uow, Identity(platform="webchat", external_id=f"v{i}"), address
                )
                text = f"The VPN is down and I cannot connect from home ({i})"
                ctx = HandlerContext(uow=uow, person=person, address=address, now=T0, text=text)
                nlu = Understanding(
                    text=text,
                    intent=IntentName.REPORT_INCIDENT,
                    confidence=0.9,
                    entities=(Entity(entity="service", value="VPN", start=4, end=7),),
                )
                await report_incident(nlu, ctx)
                outgoing += ctx.outgoing
                if deliver:
                    await add_outgoing(
                        uow, ctx.outgoing, topics=lambda _: (), exclude=address, inbox_id=None
                    )
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    return seen, outgoing


def _count(seen: list[str], kind: str, table: str) -> int:
    # On PostgreSQL a ticket's INSERT follows the CTE that draws its number.
    return sum(1 for s in seen if f"{table} " in s and s.startswith((kind, "WITH")))


async def test_a_batch_of_reports_asks_once_and_writes_together(factory: SessionFactory) -> None:
    seen, _ = await _reports(factory, 6)
    assert _count(seen, "SELECT", "FROM alert_incidents") == 1, "no outage: asked once"
    # However many reports: the desk look-ups of the first declare what they read.
    assert _count(seen, "INSERT", "INTO ticket_events") == 1
    assert _count(seen, "INSERT", "INTO person_roles") == 1
    assert _count(seen, "INSERT", "INTO tickets") == 6
    async with UnitOfWork(factory) as uow:
        events = await uow.session.scalar(select(func.count(TicketEvent.id)))
        roles = await uow.session.scalar(select(func.count()).select_from(PersonRole))
    assert events == 6
    assert roles == 3 + 6


async def test_a_recurrence_offer_costs_one_insert_and_one_owners_query(
    factory: SessionFactory,
) -> None:
    seen, outgoing = await _reports(factory, 3)
    assert _count(seen, "INSERT", "INTO recurrence_offers") == 1
    offered = [s for s in seen if s.startswith("SELECT recurrence_offers.")]
    assert offered == [], "the unique cluster decides"
    assert [s for s in seen if "FROM tickets WHERE tickets.id IN" in s] == [], "refs come along"
    assert _count(seen, "SELECT", "FROM person_roles") == 0, "owners are not loaded"
    assert _count(seen, "SELECT", "FROM people") == 1
    async with UnitOfWork(factory) as uow:
        [offer] = list(await uow.session.scalars(select(RecurrenceOffer)))
        erin = await uow.people.by_email("erin@example.com")
        wei = await uow.people.by_email("wei@example.com")
    assert erin is not None
    assert wei is not None
    # The lead first, then the members, each in their own language.
    assert [o.person_id for o in outgoing] == [erin.id, wei.id]
    assert all("INC-1, INC-2, INC-3" in o.reply.text for o in outgoing)
    assert outgoing[0].reply.text != outgoing[1].reply.text
    assert [b.value for o in outgoing for b in o.reply.buttons] == [f"offer-{offer.id}"] * 2


async def test_a_cluster_offered_already_is_not_offered_again(factory: SessionFactory) -> None:
    await _reports(factory, 3)
    async with UnitOfWork(factory) as uow:
        [offer] = list(await uow.session.scalars(select(RecurrenceOffer)))
        assert offer.service_id is not None
        again = await uow.problems.offer(
            offer.cluster,
            service_id=offer.service_id,
            group_id=offer.group_id,
            incident_ids=list(offer.incident_ids),
        )
        assert again is None
        await uow.commit()


async def test_a_batch_of_offers_reads_candidates_and_recipients_once(
    factory: SessionFactory,
) -> None:
    seen, outgoing = await _reports(factory, 9, deliver=True)
    assert _count(seen, "INSERT", "INTO recurrence_offers") == 3
    candidates = [s for s in seen if s.startswith("SELECT tickets.id, tickets.created_at")]
    assert len(candidates) == 1, "the window is read once and followed"
    assert _count(seen, "SELECT", "FROM people") == 1, "the owners are read once"
    assert _count(seen, "SELECT", "FROM groups WHERE groups.id") <= 1
    # Erin and Wei never wrote: where to reach each is read once for the three offers.
    reach = [s for s in seen if s.startswith("SELECT channel_identities.platform")]
    assert len(reach) == 2
    async with UnitOfWork(factory) as uow:
        offers = list(await uow.session.scalars(select(RecurrenceOffer).order_by("id")))
        erin = await uow.people.by_email("erin@example.com")
        wei = await uow.people.by_email("wei@example.com")
    assert erin is not None
    assert wei is not None
    assert [o.person_id for o in outgoing] == [erin.id, wei.id] * 3
    assert [len(o.incident_ids) for o in offers] == [3, 3, 3]
    for refs, notices in zip(
        ("INC-1, INC-2, INC-3", "INC-4, INC-5, INC-6", "INC-7, INC-8, INC-9"),
        (outgoing[0:2], outgoing[2:4], outgoing[4:6]),
        strict=True,
    ):
        assert all(refs in o.reply.text for o in notices)
