"""A desk with an agreement, a lead, an on-call rota; tickets made through the real handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.conversation import Address, Reply
from handlers.context import HandlerContext
from handlers.service_levels import start_clock
from nlu.types import Entity, IntentName
from store.db import SessionFactory
from store.models import OutboxMessage
from store.uow import UnitOfWork
from tests.unit.desks import Handler, load_desk, say_as, ticket

__all__ = ["ticket"]

DESK = """
people:
  - {name: Alice Example, email: alice@example.com, identities: {slack: U0ALICE}}
  - {name: Bob Lead, email: bob@example.com, roles: [agent], identities: {telegram: 5550102}}
  - {name: Erin Agent, email: erin@example.com, roles: [agent], identities: {slack: U0ERIN}}
  - {name: Wei Agent, email: wei@example.com, roles: [agent], identities: {telegram: 5550103}}
groups:
  - {name: service-desk, lead: bob@example.com, default: true, slack_channel: C0DESK}
  - name: network
    lead: bob@example.com
    members: [erin@example.com, wei@example.com]
    slack_channel: C0NET
    oncall: {weekly: [erin@example.com, wei@example.com], starts: 2026-11-30,
             calendar: office, escalate_after: 10m}
calendars:
  - {name: office, timezone: Europe/Berlin, hours: "Mon-Fri 08:00-18:00"}
slas:
  - {name: standard, applies_to: {kind: incident}, close_after: 1d,
     targets: {P1: {response: 20s, resolve: 4h}, P2: {response: 1h, resolve: 8h},
               P3: {response: 4h, resolve: 3d}}}
services:
  - {name: VPN, criticality: critical, owner_group: network}
  - {name: Email, criticality: medium}
"""

IN_HOURS = datetime(2026, 12, 1, 10, tzinfo=UTC)
"""Tuesday 1 December 2026, 11:00 in Berlin: inside the office calendar, so a P1 pages nobody."""


@pytest.fixture
async def factory(factory: SessionFactory, tmp_path: Path) -> SessionFactory:
    await load_desk(factory, tmp_path, DESK)
    return factory


@dataclass(frozen=True)
class Sent:
    platform: str
    conversation: str
    text: str
    actions: tuple[str, ...]
    card: dict[str, Any] | None


async def say(
    factory: SessionFactory,
    handler: Handler,
    who: str,
    text: str,
    *,
    now: datetime,
    entities: tuple[Entity, ...] = (),
    intent: IntentName = IntentName.REPORT_INCIDENT,
) -> list[Reply]:
    replies, _ = await say_as(
        factory, handler, who, text, now=now, entities=entities, intent=intent
    )
    return replies


def entity(kind: str, value: str) -> Entity:
    return Entity(entity=kind, value=value, start=0, end=len(value))


async def events(factory: SessionFactory, ref: str) -> list[tuple[str, dict[str, Any]]]:
    async with UnitOfWork(factory) as uow:
        found = await uow.tickets.by_ref(ref)
        assert found is not None
        return [(e.action, e.detail) for e in await uow.tickets.events(found.id)]


async def outbox(factory: SessionFactory) -> list[Sent]:
    async with UnitOfWork(factory) as uow:
        rows = await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [
            Sent(
                platform=r.platform,
                conversation=str(r.address["conversation"]),
                text=str(r.reply.get("text", "")),
                actions=tuple(b["action"] for b in r.reply.get("buttons") or ()),
                card=r.reply.get("card"),
            )
            for r in rows
        ]


async def opened_at(factory: SessionFactory, ref: str, at: datetime) -> None:
    """Move a ticket's opening to `at`, clock included, as if it had been opened then.

    Tests of the clocks open tickets in office hours this way, so an on-call page (which
    depends on the time of day a ticket arrives) never joins what they count.
    """
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        t.created_at = at
        ctx = HandlerContext(
            uow=uow,
            person=t.requester,
            address=Address(channel="console", conversation="test", user="test"),
            now=at,
        )
        await start_clock(ctx, t)
        await uow.commit()
