"""New tickets through the real handlers: routed to a group and a person, clocks on the ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.incidents import add_info, assign_to_me, escalate, report_incident, resolve
from handlers.requests import request_service
from handlers.rules.calendar import Calendar
from handlers.service_levels import hold
from nlu.types import Entity, IntentName
from store.db import SessionFactory
from store.enums import Priority, Status
from store.uow import UnitOfWork
from tests.unit.desks import Handler, load_desk, say_as, ticket

DESK = """
people:
  - {name: Alice Example, email: alice@example.com, organisation: Acme}
  - {name: Dan Requester, email: dan@example.com}
  - {name: Bob Agent, email: bob@example.com, roles: [agent], groups: [service-desk]}
  - {name: Erin Agent, email: erin@example.com, roles: [agent], skills: [wan]}
  - {name: Wei Agent, email: wei@example.com, roles: [agent], skills: [vpn]}
groups:
  - {name: service-desk, lead: bob@example.com, default: true}
  - {name: network, members: [erin@example.com, wei@example.com], auto_assign: true,
     slack_channel: C0NET, telegram_chat: "-1001234"}
calendars:
  - {name: office, timezone: Europe/Berlin, hours: "Mon-Fri 08:00-18:00", holidays: ["2026-12-25"]}
slas:
  - {name: standard, applies_to: {kind: incident}, calendar: office,
     targets: {P1: {response: 15m, resolve: 4h}, P2: {response: 1h, resolve: 8h}, P3: {response: 4h, resolve: 3d}}}
  - {name: acme-gold, applies_to: {organisation: Acme, kind: incident},
     targets: {P1: {response: 10m, resolve: 2h}, P2: {response: 30m, resolve: 4h}}}
services:
  - {name: VPN, criticality: high, owner_group: network, skills: [vpn]}
  - {name: Email, criticality: medium}
"""

OFFICE = Calendar.build("office", "Europe/Berlin", "Mon-Fri 08:00-18:00", ["2026-12-25"])

# Tuesday 1 December 2026, 10:00 in Berlin.
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
async def factory(factory: SessionFactory, tmp_path: Path) -> SessionFactory:
    await load_desk(factory, tmp_path, DESK)
    return factory


async def say(
    factory: SessionFactory,
    handler: Handler,
    who: str,
    text: str,
    *,
    now: datetime,
    entities: tuple[Entity, ...] = (),
    intent: IntentName = IntentName.REPORT_INCIDENT,
) -> tuple[list[Reply], list[Outgoing]]:
    return await say_as(factory, handler, who, text, now=now, entities=entities, intent=intent)


def svc(name: str) -> Entity:
    return Entity(entity="service", value=name, start=0, end=len(name))


def ref(value: str) -> Entity:
    return Entity(entity="ticket_ref", value=value, start=0, end=len(value))


def urgent(level: str = "high") -> Entity:
    return Entity(entity="urgency", value=level, start=0, end=1)


async def backdate(factory: SessionFactory, ref: str, at: datetime) -> None:
    """Ticket creation stamps the real time; tests put it at a known instant."""
    async with UnitOfWork(factory) as uow:
        found = await uow.tickets.by_ref(ref)
        assert found is not None
        found.created_at = at
        await uow.commit()


async def test_an_incident_goes_to_the_owner_group_and_the_best_skilled_member(
    factory: SessionFactory,
) -> None:
    replies, outgoing = await say(
        factory, report_incident, "dan@example.com", "VPN is down", now=T0, entities=(svc("VPN"),)
    )
    assert "INC-1" in replies[0].text
    t = await ticket(factory, "INC-1")
    assert t.group is not None
    assert t.group.name == "network"
    assert t.assignee is not None
    assert t.assignee.email == "wei@example.com"
    [note] = [o for o in outgoing if o.person_id == t.assignee_id]
    assert "INC-1 was assigned to you" in note.reply.text
    posted = {(o.address.channel, o.address.conversation): o.reply for o in outgoing if o.address}
    assert set(posted) == {("slack", "C0NET"), ("telegram", "-1001234")}
    assert posted["slack", "C0NET"].text == "New incident INC-1 (P3), with Wei Agent: VPN is down"
    assert [b.action for b in posted["slack", "C0NET"].buttons][0] == "assign_me"
    async with UnitOfWork(factory) as uow:
        actions = [(e.action, e.detail) for e in await uow.tickets.events(t.id)]
    # The owner group came with the ticket: no separate routing event, only the assignment.
    assert [a for a, _ in actions] == ["created", "assigned", "sla"]
    assert any(a == "assigned" and d["by"] == "auto-assign" for a, d in actions)
    # The second VPN ticket still goes to Wei: the skill match outweighs the load.
    await say(
        factory, report_incident, "dan@example.com", "VPN again", now=T0, entities=(svc("VPN"),)
    )
    second = await ticket(factory, "INC-2")
    assert second.assignee_id == t.assignee_id
    # Taking the ticket routing gave you is the first response; after that it is yours.
    later = T0 + timedelta(minutes=3)
    take = (factory, assign_to_me, "wei@example.com", "")
    await say(*take, now=later, intent=IntentName.OUT_OF_SCOPE, entities=(ref("INC-1"),))
    t = await ticket(factory, "INC-1")
    assert t.responded_at == later
    assert t.status is Status.IN_PROGRESS
    again, _ = await say(*take, now=later, intent=IntentName.OUT_OF_SCOPE, entities=(ref("INC-1"),))
    assert again[0].text == "INC-1 is already yours."


async def test_without_an_owner_group_it_goes_to_the_service_desk_unassigned(
    factory: SessionFactory,
) -> None:
    _, outgoing = await say(
        factory,
        report_incident,
        "dan@example.com",
        "Email broken",
        now=T0,
        entities=(svc("Email"),),
    )
    t = await ticket(factory, "INC-1")
    assert t.group is not None
    assert t.group.name == "service-desk"
    assert t.assignee_id is None
    # The service desk has no channel configured here: nothing is posted anywhere.
    assert [o for o in outgoing if o.address is not None] == []
    async with UnitOfWork(factory) as uow:
        events = await uow.tickets.events(t.id)
    assert [(e.action, e.detail) for e in events][1] == ("routed", {"group": "service-desk"})
    await say(
        factory,
        request_service,
        "dan@example.com",
        "I need a monitor",
        now=T0,
        intent=IntentName.REQUEST_SERVICE,
    )
    req = await ticket(factory, "REQ-1")
    assert req.group_id == t.group_id
    assert req.sla_name is None  # no agreement covers requests in this desk
    assert req.sla_next_at is None


async def test_the_ticket_gets_the_most_specific_agreement_and_due_times(
    factory: SessionFactory,
) -> None:
    await say(
        factory, report_incident, "alice@example.com", "VPN is down", now=T0, entities=(svc("VPN"),)
    )
    gold = await ticket(factory, "INC-1")
    assert gold.priority is Priority.P3  # high-criticality service, medium urgency
    # acme-gold is the most specific match and has no P3 target: no clock, even though the
    # less specific `standard` has one.
    assert gold.sla_name is None
    assert gold.response_due_at is None
    assert gold.sla_next_at is None
    await say(
        factory,
        escalate,
        "alice@example.com",
        "INC-1 urgent",
        now=T0,
        intent=IntentName.ESCALATE,
        entities=(ref("INC-1"), urgent()),
    )
    gold = await ticket(factory, "INC-1")
    assert gold.priority is Priority.P2
    assert gold.sla_name == "acme-gold"
    # Round the clock: 30 minutes of plain time from creation.
    assert gold.response_due_at == gold.created_at + timedelta(minutes=30)
    await say(
        factory,
        report_incident,
        "dan@example.com",
        "Email is down",
        now=T0,
        entities=(svc("Email"),),
    )
    std = await ticket(factory, "INC-2")
    assert std.sla_name == "standard"
    assert std.priority is Priority.P3
    assert std.response_due_at == OFFICE.add(std.created_at, 4 * 3600)
    assert std.resolve_due_at == OFFICE.add_days(std.created_at, 3)


async def test_clocks_follow_priority_hold_response_and_resolution(factory: SessionFactory) -> None:
    await say(
        factory,
        report_incident,
        "dan@example.com",
        "Email is down",
        now=T0,
        entities=(svc("Email"),),
    )
    await backdate(factory, "INC-1", T0)
    # Recompute from the known start, as a priority change does.
    await say(
        factory,
        escalate,
        "dan@example.com",
        "INC-1 this is urgent, whole team blocked",
        now=T0 + timedelta(minutes=5),
        intent=IntentName.ESCALATE,
        entities=(ref("INC-1"), urgent()),
    )
    t = await ticket(factory, "INC-1")
    assert t.priority is Priority.P2
    assert t.response_due_at == T0 + timedelta(hours=1)
    assert t.response_warn_at == T0 + timedelta(minutes=45)
    # 8 working hours from 10:00 Berlin: 10:00-18:00 today.
    assert t.resolve_due_at == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert t.sla_next_at == t.response_warn_at

    async with UnitOfWork(factory) as uow:
        assert [x.ref for x in await uow.desk.due(T0 + timedelta(minutes=44))] == []
        assert [x.ref for x in await uow.desk.due(T0 + timedelta(minutes=45))] == ["INC-1"]

    # An agent takes it: the response clock is met, the next instant is the resolve warning.
    await say(
        factory,
        assign_to_me,
        "bob@example.com",
        "",
        now=T0 + timedelta(minutes=20),
        intent=IntentName.OUT_OF_SCOPE,
        entities=(ref("INC-1"),),
    )
    t = await ticket(factory, "INC-1")
    assert t.responded_at == T0 + timedelta(minutes=20)
    assert t.sla_next_at == t.resolve_warn_at

    # On hold for two working hours, then the requester answers: the resolve times move by 2h.
    async with UnitOfWork(factory) as uow:
        held = await uow.tickets.by_ref("INC-1")
        assert held is not None
        bob = await uow.people.by_email("bob@example.com")
        assert bob is not None
        address = Address(channel="console", conversation="bob", user="bob")
        ctx = HandlerContext(uow=uow, person=bob, address=address, now=T0 + timedelta(hours=1))
        held.status = Status.ON_HOLD
        await hold(ctx, held)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        # A paused ticket has nothing due, however late it gets.
        assert await uow.desk.due(T0 + timedelta(days=30)) == []
    before = t.resolve_due_at
    await say(
        factory,
        add_info,
        "dan@example.com",
        "INC-1 it is the laptop dock",
        now=T0 + timedelta(hours=3),
        intent=IntentName.ADD_INFO,
        entities=(ref("INC-1"),),
    )
    t = await ticket(factory, "INC-1")
    assert t.status is Status.IN_PROGRESS
    assert t.sla_paused_at is None
    assert t.sla_paused_seconds == 2 * 3600
    assert before is not None
    # Due at 18:00 Berlin before; two working hours later is 10:00 the next morning.
    assert before == datetime(2026, 12, 1, 17, tzinfo=UTC)
    assert t.resolve_due_at == datetime(2026, 12, 2, 9, tzinfo=UTC)
    assert t.sla_next_at == t.resolve_warn_at

    await say(
        factory,
        resolve,
        "bob@example.com",
        "INC-1 fixed",
        now=T0 + timedelta(hours=4),
        intent=IntentName.RESOLVE_TICKET,
        entities=(ref("INC-1"),),
    )
    t = await ticket(factory, "INC-1")
    assert t.sla_next_at is None
    async with UnitOfWork(factory) as uow:
        assert await uow.desk.due(T0 + timedelta(days=30)) == []


async def test_a_new_ticket_goes_in_with_its_clock_rather_than_being_updated_after(
    factory: SessionFactory,
) -> None:
    engine = factory.kw["bind"]
    seen: list[str] = []

    def statement(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(" ".join(sql.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    try:
        await say(factory, report_incident, "dan@example.com", "VPN is down", now=T0)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
    t = await ticket(factory, "INC-1")
    assert t.sla_name == "standard"
    assert t.response_due_at == OFFICE.add(t.created_at, 4 * 3600)
    assert t.sla_next_at == t.response_warn_at
    # On PostgreSQL the INSERT follows the CTE that draws the ticket's number.
    [inserted] = [s for s in seen if "INSERT INTO tickets" in s]
    assert "sla_name" in inserted
    assert not [s for s in seen if s.startswith("UPDATE tickets") and "sla_" in s]
