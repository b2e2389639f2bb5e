"""A group's queue: its open tickets, nobody's first, then by the next due time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.incidents import assign_to_me, report_incident, resolve
from nlu.types import Entity, IntentName
from store.db import SessionFactory
from store.models import Group
from store.uow import UnitOfWork
from tests.unit.desks import load_desk, say_as

DESK = """
people:
  - {name: Alice Example, email: alice@example.com}
  - {name: Erin Agent, email: erin@example.com, roles: [agent]}
groups:
  - {name: service-desk, default: true}
  - {name: network, members: [erin@example.com]}
slas:
  - {name: standard, applies_to: {kind: incident},
     targets: {P1: {response: 15m, resolve: 4h}, P3: {response: 4h, resolve: 3d}}}
services:
  - {name: VPN, criticality: critical, owner_group: network}
  - {name: Email, criticality: medium}
"""

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
async def factory(factory: SessionFactory, tmp_path: Path) -> SessionFactory:
    await load_desk(factory, tmp_path, DESK)
    return factory


def said(kind: str, value: str) -> Entity:
    return Entity(entity=kind, value=value, start=0, end=len(value))


async def report(factory: SessionFactory, text: str, service: str, urgency: str) -> str:
    [reply], _ = await say_as(
        factory,
        report_incident,
        "alice@example.com",
        text,
        now=T0,
        entities=(said("service", service), said("urgency", urgency)),
    )
    assert reply.ticket_ref
    return reply.ticket_ref


async def queue(factory: SessionFactory, group: str) -> tuple[list[str], int]:
    async with UnitOfWork(factory) as uow:
        found = await uow.desk.named(Group, group)
        assert found is not None
        items, total = await uow.desk.queue(found.id)
        return [t.ref for t in items], total


async def test_unassigned_first_then_by_due_time_open_tickets_only(
    factory: SessionFactory,
) -> None:
    slow = await report(factory, "VPN is slow for me", "VPN", "low")
    urgent = await report(factory, "VPN is down for everyone", "VPN", "high")
    taken = await report(factory, "VPN drops every hour for the team", "VPN", "high")
    done = await report(factory, "VPN certificate warning", "VPN", "low")
    other = await report(factory, "Email bounces", "Email", "low")
    later = T0 + timedelta(minutes=1)
    await say_as(
        factory,
        assign_to_me,
        "erin@example.com",
        f"assign {taken} to me",
        now=later,
        entities=(said("ticket_ref", taken),),
        intent=IntentName.OUT_OF_SCOPE,
    )
    await say_as(
        factory,
        resolve,
        "erin@example.com",
        f"{done} fixed",
        now=later,
        entities=(said("ticket_ref", done),),
        intent=IntentName.RESOLVE_TICKET,
    )
    refs, total = await queue(factory, "network")
    assert (refs, total) == ([urgent, slow, taken], 3)
    assert await queue(factory, "service-desk") == ([other], 1)
