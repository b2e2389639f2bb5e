"""Handing a ticket to a supplier in chat, and the e-mail channel that carries the mail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.sla_watch import SlaWatch
from channels.base import DeliveryError
from channels.conversation import Address, Reply
from channels.email import EmailChannel, SmtpServer
from handlers.context import HandlerContext
from handlers.incidents import report_incident
from handlers.suppliers import hand_command
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory
from store.enums import Status
from store.models import OutboxMessage, SupplierHandoff
from store.uow import UnitOfWork
from tests.fakes.smtp import FakeSmtpServer
from tests.unit.desks import load_desk

DESK = """
people:
  - {name: Alice Example, email: alice@example.com}
  - {name: Bob Agent, email: bob@example.com, roles: [agent]}
groups:
  - {name: service-desk, default: true}
  - {name: network, members: [bob@example.com], slack_channel: C0NET}
calendars:
  - {name: netco-hours, timezone: UTC, hours: "Mon-Fri 09:00-17:00"}
suppliers:
  - {name: NetCo, contract: UC-7, services: [WAN], calendar: netco-hours,
     targets: {P1: {response: 30m, resolve: 6h}}, contact: {email: noc@netco.example}}
  - {name: PrintCo, contact: {name: Desk}}
services:
  - {name: WAN, criticality: critical, owner_group: network}
  - {name: Email, criticality: medium}
"""

# Tuesday 1 December 2026, 16:45 UTC: NetCo works until 17:00.
T0 = datetime(2026, 12, 1, 16, 45, tzinfo=UTC)


@pytest.fixture
async def factory(factory: SessionFactory, tmp_path: Path) -> SessionFactory:
    await load_desk(factory, tmp_path, DESK)
    return factory


async def say(
    factory: SessionFactory,
    who: str,
    text: str,
    intent: IntentName,
    *entities: Entity,
    mail: bool = True,
) -> tuple[list[Reply], list[tuple[str, str, str]]]:
    """Run a handler as `who` (with mail set up unless `mail=False`); its replies and its
    notifications (channel, to, text)."""
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email(who)
        assert person is not None
        ctx = HandlerContext(
            uow=uow,
            person=person,
            address=Address(channel="console", conversation=who, user=who),
            now=T0,
            text=text,
            mail=mail,
        )
        nlu = Understanding(text=text, intent=intent, confidence=0.9, entities=entities)
        handler = report_incident if intent is IntentName.REPORT_INCIDENT else hand_command
        replies = await handler(nlu, ctx)
        await uow.commit()
    sent = [
        (o.address.channel, o.address.conversation, o.reply.text)
        for o in ctx.outgoing
        if o.address is not None
    ]
    return replies, sent


def ref(value: str) -> Entity:
    return Entity(entity="ticket_ref", value=value, start=0, end=len(value))


async def wan_down(factory: SessionFactory) -> None:
    service = Entity(entity="service", value="WAN", start=0, end=3)
    urgency = Entity(entity="urgency", value="high", start=0, end=4)
    [reply], _ = await say(
        factory,
        "alice@example.com",
        "the WAN is down",
        IntentName.REPORT_INCIDENT,
        service,
        urgency,
    )
    assert "INC-1" in reply.text


async def test_hand_to_the_supplier_starts_their_clock_on_their_calendar(
    factory: SessionFactory,
) -> None:
    await wan_down(factory)
    [reply], sent = await say(
        factory, "bob@example.com", "hand INC-1 to the supplier", IntentName.OUT_OF_SCOPE
    )
    assert reply.text.startswith("INC-1 is handed to NetCo.")
    assert "I've mailed noc@netco.example:" in reply.text
    # The agent sees the mail itself, to forward it when no mail is set up.
    assert "We are handing INC-1 to you under UC-7." in reply.text
    [(channel, to, mail)] = [s for s in sent if s[0] == "email"]
    assert (channel, to) == ("email", "noc@netco.example")
    assert mail.startswith("[INC-1] P1 incident for NetCo: ")

    async with UnitOfWork(factory) as uow:
        [handoff] = list(await uow.session.scalars(select(SupplierHandoff)))
        ticket = await uow.tickets.by_ref("INC-1")
        assert ticket is not None
        events = [(e.action, e.detail) for e in await uow.tickets.events(ticket.id)]
    # 15 working minutes on Tuesday, 15 more from 09:00 on Wednesday.
    assert handoff.response_due_at == datetime(2026, 12, 2, 9, 15, tzinfo=UTC)
    assert handoff.resolve_due_at == T0.replace(hour=9, minute=0) + timedelta(
        days=1, hours=5, minutes=45
    )
    assert handoff.supplier == "NetCo"
    assert ticket.status is Status.IN_PROGRESS
    assert ticket.responded_at == T0
    [(_, detail)] = [e for e in events if e[0] == "supplier"]
    assert detail["supplier"] == "NetCo"
    assert detail["contract"] == "UC-7"
    assert detail["mailed"] is True


async def test_without_mail_set_up_nothing_is_queued_and_the_agent_is_told(
    factory: SessionFactory,
) -> None:
    await wan_down(factory)
    [reply], sent = await say(
        factory, "bob@example.com", "hand INC-1 to NetCo", IntentName.OUT_OF_SCOPE, mail=False
    )
    assert reply.text.startswith("INC-1 is handed to NetCo.")
    assert "I've mailed" not in reply.text
    assert (
        "Mail is not set up here, so nothing was sent: please forward this to "
        "noc@netco.example yourself:" in reply.text
    )
    assert "We are handing INC-1 to you under UC-7." in reply.text
    assert [s for s in sent if s[0] == "email"] == []
    async with UnitOfWork(factory) as uow:
        mail_rows = await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.platform == "email")
        )
        assert list(mail_rows) == []
        ticket = await uow.tickets.by_ref("INC-1")
        assert ticket is not None
        [detail] = [e.detail for e in await uow.tickets.events(ticket.id) if e.action == "supplier"]
    assert detail["mailed"] is False
    # The supplier's clock runs all the same.
    async with UnitOfWork(factory) as uow:
        [handoff] = list(await uow.session.scalars(select(SupplierHandoff)))
    assert handoff.response_due_at is not None


async def test_hand_needs_a_ticket_so_other_sentences_go_to_the_nlu() -> None:
    from handlers.registry import load

    handlers = load()
    assert handlers.for_command("hand INC-7 to NetCo") is not None
    for text in ("hand me a new mouse please", "hand over my laptop to IT"):
        spec = handlers.for_command(text)
        assert spec is None or "hand" not in spec.commands


async def test_hand_off_refusals(factory: SessionFactory) -> None:
    await wan_down(factory)
    [no], _ = await say(
        factory, "alice@example.com", "hand INC-1 to NetCo", IntentName.OUT_OF_SCOPE, ref("INC-1")
    )
    assert no.text == "Only agents can hand tickets to suppliers."
    [unknown], _ = await say(
        factory, "bob@example.com", "hand INC-1 to Nobody Ltd", IntentName.OUT_OF_SCOPE
    )
    assert unknown.text == "There is no supplier called 'Nobody Ltd' in the desk."
    [no_mail], sent = await say(
        factory, "bob@example.com", "hand INC-1 over to PrintCo", IntentName.OUT_OF_SCOPE
    )
    assert "PrintCo has no contact e-mail in the desk file; send them this:" in no_mail.text
    assert "no target for P1" in no_mail.text
    assert [s for s in sent if s[0] == "email"] == []


async def supplier_news(factory: SessionFactory) -> tuple[list[OutboxMessage], list[str]]:
    """Notifications about the supplier's clock, and the ticket's event actions."""
    async with UnitOfWork(factory) as uow:
        rows = list(await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        ticket = await uow.tickets.by_ref("INC-1")
        assert ticket is not None
        actions = [e.action for e in await uow.tickets.events(ticket.id)]
    return [r for r in rows if str(r.reply.get("text")).startswith("NetCo")], actions


async def test_the_watcher_warns_and_reports_a_supplier_breach_apart_from_ours(
    factory: SessionFactory,
) -> None:
    await wan_down(factory)
    await say(factory, "bob@example.com", "hand INC-1 to NetCo", IntentName.OUT_OF_SCOPE)
    # 30 working minutes from Tuesday 16:45: 15 that day, 15 from 09:00 on Wednesday; the
    # warning at 75 %, after 22.5 of them.
    response_warn = datetime(2026, 12, 2, 9, 7, 30, tzinfo=UTC)
    response_due = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)
    async with UnitOfWork(factory) as uow:
        [handoff] = list(await uow.session.scalars(select(SupplierHandoff)))
    assert (handoff.response_warn_at, handoff.response_due_at) == (response_warn, response_due)
    assert handoff.resolve_warn_at == datetime(2026, 12, 2, 13, 15, tzinfo=UTC)
    assert handoff.next_at == response_warn

    clock = [response_warn - timedelta(seconds=1)]
    watch = SlaWatch(factory, now=lambda: clock[0], sweep=3600)
    assert await watch.seconds_to_next() == 1.0
    assert (await watch.tick()).acted == 0

    clock[0] = response_warn
    assert (await watch.tick()).acted == 1
    [warned], actions = await supplier_news(factory)
    assert (warned.platform, warned.address["conversation"]) == ("slack", "C0NET")
    assert str(warned.reply["text"]).startswith(
        "NetCo (UC-7) is close to its response target on INC-1: due at 09:15 UTC"
    )
    assert "supplier_warning" in actions
    assert "sla_warning" not in actions
    assert (await watch.tick()).acted == 0

    clock[0] = response_due
    assert (await watch.tick()).acted == 1
    async with UnitOfWork(factory) as uow:
        ticket = await uow.tickets.by_ref("INC-1")
        assert ticket is not None
        events = [(e.action, e.detail) for e in await uow.tickets.events(ticket.id)]
        [handoff] = list(await uow.session.scalars(select(SupplierHandoff)))
    news, _ = await supplier_news(factory)
    assert str(news[-1].reply["text"]).startswith(
        "NetCo (UC-7) missed its response target on INC-1 (due 09:15 UTC)."
    )
    [(_, detail)] = [e for e in events if e[0] == "supplier_breached"]
    assert detail["target"] == "response"
    assert "sla_breached" not in [a for a, _ in events]
    assert handoff.next_at == handoff.resolve_warn_at
    # Reported once.
    assert (await watch.tick()).acted == 0

    # Resolved before their resolution target: the hand-off ends without another report.
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref("INC-1")
        assert t is not None
        t.status = Status.RESOLVED
        t.resolved_at = response_due + timedelta(hours=1)
        await uow.commit()
    assert handoff.resolve_due_at is not None
    clock[0] = handoff.resolve_due_at
    await watch.tick()
    async with UnitOfWork(factory) as uow:
        [ended] = list(await uow.session.scalars(select(SupplierHandoff)))
    news, actions = await supplier_news(factory)
    assert len(news) == 2
    assert actions.count("supplier_breached") == 1
    assert actions.count("supplier_warning") == 1
    assert ended.next_at is None
    assert ended.ended_at == response_due + timedelta(hours=1)


async def test_a_watcher_away_past_both_instants_reports_the_miss_alone(
    factory: SessionFactory,
) -> None:
    await wan_down(factory)
    await say(factory, "bob@example.com", "hand INC-1 to NetCo", IntentName.OUT_OF_SCOPE)
    clock = [datetime(2026, 12, 2, 9, 20, tzinfo=UTC)]
    watch = SlaWatch(factory, now=lambda: clock[0], sweep=3600)
    assert (await watch.tick()).acted == 1
    [missed], actions = await supplier_news(factory)
    assert "missed its response target" in str(missed.reply["text"])
    assert "supplier_warning" not in actions
    async with UnitOfWork(factory) as uow:
        [handoff] = list(await uow.session.scalars(select(SupplierHandoff)))
    assert handoff.next_at == handoff.resolve_warn_at


def test_smtp_url_and_its_password_stay_out_of_reprs() -> None:
    server = SmtpServer.from_url("smtp://desk%40example.com:p%40ss@mail.example:2525?starttls=1")
    assert (server.username, server.password, server.port) == ("desk@example.com", "p@ss", 2525)
    assert server.starttls
    assert not server.tls
    assert "p@ss" not in repr(server)
    assert SmtpServer.from_url("smtps://mail.example").port == 465
    with pytest.raises(Exception, match="SMTP_URL must look like"):
        SmtpServer.from_url("http://mail.example")


async def test_a_refused_recipient_is_a_permanent_failure() -> None:
    with FakeSmtpServer(refuse={"gone@netco.example"}) as smtp:
        channel = EmailChannel(SmtpServer.from_url(smtp.url()), sender="desk@example.com")
        to = Address(channel="email", conversation="gone@netco.example", user="")
        with pytest.raises(DeliveryError) as refused:
            await channel.send(to, Reply(text="subject\n\nbody"))
        assert refused.value.permanent
        ok = Address(channel="email", conversation="noc@netco.example", user="")
        delivery = await channel.send(
            ok, Reply(text="[INC-1] subject\n\nthe body", ticket_ref="INC-1")
        )
        [mail] = smtp.wait_for(1)
    assert delivery.external_id == mail.message["Message-ID"]
    assert mail.message["Subject"] == "[INC-1] subject"
    assert mail.message.get_content().strip() == "the body"
    assert mail.login is None
