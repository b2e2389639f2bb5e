"""Major incidents: agents declare them, reports are linked, owners paged, updates spread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.router import IntentRouter
from channels.conversation import Address, Identity, Message
from handlers.context import HandlerContext, Outgoing
from handlers.registry import load
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory, create_engine, session_factory
from store.enums import Status, TicketKind
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    from bot.demo import seed_demo

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/major.db")
    await upgrade_engine(engine)
    f = session_factory(engine)
    async with UnitOfWork(f) as uow:
        await seed_demo(uow)
        group = await uow.people.group("infrastructure")
        assert group is not None
        group.slack_channel = "C0INFRA"
        group.oncall = {
            "weekly": ["erin@example.com"],
            "starts": date(2026, 11, 30).isoformat(),
            "handover": "Mon 09:00",
            "timezone": "UTC",
        }
        await uow.commit()
    yield f
    await engine.dispose()


async def incident(f: SessionFactory, who: str, service: str, title: str) -> str:
    async with UnitOfWork(f) as uow:
        person = await uow.people.by_email(who)
        svc = await uow.services.by_name(service)
        assert person is not None
        assert svc is not None
        ticket = await uow.tickets.create(
            kind=TicketKind.INCIDENT,
            title=title,
            description=title,
            requester=person,
            status=Status.NEW,
            service_id=svc.id,
            group_id=svc.owner_group_id,
        )
        ticket.created_at = NOW
        ticket.origin = Address(channel="telegram", conversation=f"chat-{who}", user=who).to_dict()
        await uow.commit()
        return ticket.ref


async def say(
    f: SessionFactory,
    who: str,
    text: str,
    intent: IntentName = IntentName.OUT_OF_SCOPE,
    entities: tuple[Entity, ...] = (),
) -> tuple[str, list[Outgoing]]:
    router = IntentRouter(load())
    address = Address(channel="slack", conversation=f"D-{who}", user=who)
    msg = Message(
        event_id="e",
        address=address,
        sender=Identity(platform="slack", external_id=who, email=who),
        text=text,
    )
    nlu = Understanding(text=text, intent=intent, confidence=0.99, entities=entities)
    async with UnitOfWork(f) as uow:
        person = await uow.people.by_email(who)
        assert person is not None
        ctx = HandlerContext(uow=uow, person=person, address=address, now=NOW, text=text)
        routed = await router.dispatch(msg, nlu, ctx, None)
        await uow.commit()
    return "\n".join(r.text for r in routed.replies), ctx.outgoing


def addressed(outgoing: list[Outgoing]) -> set[str]:
    return {o.address.conversation for o in outgoing if o.address is not None}


async def test_declare_links_reports_pages_owners_and_updates_reach_every_reporter(
    factory: SessionFactory,
) -> None:
    first = await incident(factory, "alice@example.com", "VPN", "VPN is down")
    second = await incident(factory, "dan@example.com", "VPN", "cannot connect to VPN")
    other = await incident(factory, "dan@example.com", "Email", "Outlook is slow")

    text, _ = await say(factory, "alice@example.com", f"major {first}")
    assert "Only agents" in text

    text, out = await say(factory, "bob@example.com", f"major {first}")
    assert f"{first} is now a major incident" in text
    assert "1 linked report." in text
    assert "Paged: #infrastructure, Erin Agent" in text
    # The group's channel, the on-call person, the linked reporter, the announcement.
    assert "C0INFRA" in addressed(out)
    assert "chat-dan@example.com" in addressed(out)
    assert any(o.topic == "major_incident" for o in out)
    async with UnitOfWork(factory) as uow:
        erin = await uow.people.by_email("erin@example.com")
        assert erin is not None
        assert any(o.person_id == erin.id for o in out)
        ticket = await uow.tickets.by_ref(first)
        assert ticket is not None
        major = await uow.major_incidents.for_ticket(ticket.id)
        assert major is not None
        assert major.open
        reports = await uow.major_incidents.linked_reports(ticket.id)
        assert [r.ref for r in reports] == [second]
        actions = [e.action for e in await uow.tickets.events(ticket.id)]
        assert "major_declared" in actions

    text, _ = await say(factory, "bob@example.com", f"major {first}")
    assert "major incident already" in text

    update = "failover started, next update 14:30"
    text, out = await say(factory, "bob@example.com", f"broadcast {first}: {update}")
    assert text == "Sent to 2 reporters."
    told = {o.address.conversation: o.reply.text for o in out if o.address is not None}
    assert told["chat-dan@example.com"] == f"Update on {first} (your {second}): {update}"
    assert told["chat-alice@example.com"] == f"Update on {first}: {update}"
    # The lead's own words: Meta may carry them past the 24-hour window (HUMAN_AGENT).
    flags = [o.reply.human for o in out if o.address and o.address.conversation in told]
    assert flags == [True, True]
    async with UnitOfWork(factory) as uow:
        ticket = await uow.tickets.by_ref(first)
        assert ticket is not None
        major = await uow.major_incidents.for_ticket(ticket.id)
        assert major is not None
        assert (major.last_update, major.updates) == (update, 1)

    text, _ = await say(factory, "bob@example.com", f"broadcast {other}: anything")
    assert "not an open major incident" in text
    text, _ = await say(factory, "dan@example.com", f"broadcast {first}: it is fixed")
    assert "Only agents" in text
    text, _ = await say(factory, "bob@example.com", f"broadcast {first}")
    assert "What is the update?" in text


async def test_the_swarm_channel_is_created_invited_pinned_and_gets_updates(
    factory: SessionFactory, tmp_path: Path
) -> None:
    from bot.swarm import Swarms
    from tests.conftest import make_settings
    from tests.fakes.slack_api import FakeSlackApi

    first = await incident(factory, "alice@example.com", "VPN", "VPN is down")
    async with UnitOfWork(factory) as uow:
        erin = await uow.people.by_email("erin@example.com")
        bob = await uow.people.by_email("bob@example.com")
        assert erin is not None
        assert bob is not None
        await uow.people.bind_identity(erin, "slack", "U0ERIN")
        await uow.people.bind_identity(bob, "slack", "U0BOB")
        await uow.commit()
    await say(factory, "bob@example.com", f"major {first}")
    with FakeSlackApi() as api:
        settings = make_settings(
            f"sqlite:///{tmp_path}/unused.db",
            tmp_path,
            slack={"bot_token": "xoxb-test", "api_url": api.api_url},
        )
        swarms = Swarms(settings, factory)
        assert await swarms.run_once() == 1
        assert await swarms.run_once() == 0  # made once
        channel = api.created[f"{first.lower()}-major"]
        assert {"U0ERIN", "U0BOB"} <= api.members[channel]
        [card] = api.by_bot(channel)
        assert f"Major incident {first}" in card.text
        # Pinned as a card: a header, the ticket's facts, then how to post updates.
        kinds = [b["type"] for b in card.blocks]
        assert kinds == ["header", "section", "context"]
        facts = " ".join(f["text"] for f in card.blocks[1]["fields"])
        assert "VPN" in facts
        assert f"broadcast {first}" in card.blocks[2]["elements"][0]["text"]
        assert api.pins == [(channel, card.ts)]
    _, out = await say(factory, "bob@example.com", f"broadcast {first}: rerouting traffic")
    assert channel in addressed(out)


async def test_the_intents_find_the_incident_without_a_reference(factory: SessionFactory) -> None:
    first = await incident(factory, "alice@example.com", "VPN", "VPN is down")
    second = await incident(factory, "dan@example.com", "VPN", "cannot connect to VPN")
    words = "declare a major incident for vpn"
    vpn = Entity(entity="service", value="VPN", start=29, end=32)
    text, _ = await say(factory, "bob@example.com", words, IntentName.DECLARE_MAJOR, (vpn,))
    assert f"{second} is now a major incident" in text
    assert "1 linked report." in text

    words = "status update: the vendor is on it, next update 15:00"
    text, out = await say(factory, "bob@example.com", words, IntentName.STATUS_UPDATE)
    assert text == "Sent to 2 reporters."
    told = {o.address.conversation: o.reply.text for o in out if o.address is not None}
    assert told["chat-alice@example.com"] == (
        f"Update on {second} (your {first}): the vendor is on it, next update 15:00"
    )

    # A requester's update is news for their own ticket, not a broadcast.
    text, out = await say(
        factory, "dan@example.com", f"update {second}: works again", IntentName.STATUS_UPDATE
    )
    assert "Only agents" not in text
    assert not any(o.address and o.address.conversation.startswith("chat-alice") for o in out)


async def test_incidents_filed_as_unclassified_are_not_one_outage(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        await uow.services.upsert("unclassified")
        await uow.commit()
    first = await incident(factory, "alice@example.com", "unclassified", "Disk full on db-7")
    await incident(factory, "dan@example.com", "unclassified", "Fan failure on sw-3")
    text, _ = await say(factory, "bob@example.com", f"major {first}")
    assert f"{first} is now a major incident" in text
    async with UnitOfWork(factory) as uow:
        ticket = await uow.tickets.by_ref(first)
        assert ticket is not None
        assert await uow.major_incidents.linked_reports(ticket.id) == []
