"""The watcher with an injected clock: warnings, breaches, escalation, pauses, handovers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from bot.sla_watch import SlaWatch, TickResult
from channels.conversation import Address
from handlers.context import HandlerContext, Outgoing
from handlers.escalation import act_on_clock
from handlers.incidents import assign_to_me, report_incident
from handlers.service_levels import hold, resume
from nlu.types import IntentName
from store.db import SessionFactory
from store.models import Person, Ticket
from store.uow import UnitOfWork
from tests.unit.sla.conftest import IN_HOURS, entity, events, opened_at, outbox, say, ticket

SECOND = timedelta(seconds=1)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _bare(uow: UnitOfWork, now: datetime) -> HandlerContext:
    return HandlerContext(
        uow=uow,
        person=Person(name="Agent"),
        address=Address(channel="console", conversation="x", user="x"),
        now=now,
    )


async def p1_on_vpn(factory: SessionFactory) -> str:
    """A P1 on the network group's VPN, nobody assigned: 20 s to respond."""
    replies = await say(
        factory,
        report_incident,
        "alice@example.com",
        "VPN is down for everyone",
        now=datetime.now(UTC),
        entities=(entity("service", "VPN"), entity("urgency", "high")),
    )
    assert "INC-1" in replies[0].text
    await opened_at(factory, "INC-1", IN_HOURS)
    t = await ticket(factory, "INC-1")
    assert t.priority is not None
    assert t.priority.value == "P1"
    return "INC-1"


async def test_warning_at_75_percent_goes_to_the_group_when_nobody_has_the_ticket(
    factory: SessionFactory,
) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_warn_at is not None
    assert t.response_due_at is not None
    assert t.response_warn_at == t.created_at + timedelta(seconds=15)
    clock = Clock(t.response_warn_at - SECOND)
    watch = SlaWatch(factory, now=clock)

    assert (await watch.tick()).acted == 0
    assert await outbox(factory) == []

    clock.at = t.response_warn_at
    assert (await watch.tick()).acted == 1
    [sent] = await outbox(factory)
    assert (sent.platform, sent.conversation) == ("slack", "C0NET")
    assert sent.text.startswith("INC-1 (P1) is close to its response target: due at ")
    assert "(5s left)" in sent.text
    assert sent.card is not None
    assert sent.card["ref"] == ref
    assert sent.actions[0] == "assign_me"
    assert [a for a, _ in await events(factory, ref)][-1] == "sla_warning"
    after = await ticket(factory, ref)
    assert after.sla_next_at == after.response_due_at

    # The same moment again: nothing new to act on, nothing sent twice.
    assert (await watch.tick()).acted == 0
    assert len(await outbox(factory)) == 1


async def test_breach_is_recorded_and_escalated_to_the_lead_in_person(
    factory: SessionFactory,
) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_warn_at is not None
    assert t.response_due_at is not None
    clock = Clock(t.response_warn_at)
    watch = SlaWatch(factory, now=clock)
    await watch.tick()
    clock.at = t.response_due_at
    assert (await watch.tick()).acted == 1

    sent = await outbox(factory)
    assert len(sent) == 2
    lead = sent[1]
    # Bob never wrote to the bot: his linked Telegram account is a private chat.
    assert (lead.platform, lead.conversation) == ("telegram", "5550102")
    assert lead.text.startswith("INC-1 (P1) breached its response target (due ")
    assert "escalated to you as lead of network" in lead.text
    assert lead.card is not None
    assert lead.card["ref"] == ref
    log = await events(factory, ref)
    breached = [d for a, d in log if a == "sla_breached"]
    assert breached == [{"target": "response", "due_at": t.response_due_at.isoformat()}]
    assert ("escalated", {"to": "Bob Lead", "by": "sla", "reason": "response target breached"}) in (
        log
    )
    after = await ticket(factory, ref)
    assert after.sla_next_at == after.resolve_warn_at


async def test_a_watcher_back_after_both_instants_reports_the_breach_alone(
    factory: SessionFactory,
) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_due_at is not None
    await SlaWatch(factory, now=lambda: t.response_due_at + SECOND).tick()
    actions = [a for a, _ in await events(factory, ref)]
    assert "sla_breached" in actions
    assert "sla_warning" not in actions
    assert len(await outbox(factory)) == 1


async def test_the_assignee_is_warned_personally(factory: SessionFactory) -> None:
    ref = await p1_on_vpn(factory)
    start = (await ticket(factory, ref)).created_at
    await say(
        factory,
        assign_to_me,
        "erin@example.com",
        "",
        now=start + 2 * SECOND,
        intent=IntentName.OUT_OF_SCOPE,
        entities=(entity("ticket_ref", ref),),
    )
    t = await ticket(factory, ref)
    # Taken in time: the response clock stopped; the next instant is the resolution warning.
    assert t.resolve_warn_at is not None
    assert t.sla_next_at == t.resolve_warn_at
    assert t.resolve_warn_at == start + timedelta(hours=3)
    await SlaWatch(factory, now=lambda: t.resolve_warn_at).tick()
    [sent] = await outbox(factory)
    assert (sent.platform, sent.conversation) == ("slack", "U0ERIN")
    assert "close to its resolution target" in sent.text
    assert "(1h left)" in sent.text


async def test_on_hold_delays_the_warning_by_the_time_held(factory: SessionFactory) -> None:
    ref = await p1_on_vpn(factory)
    start = (await ticket(factory, ref)).created_at
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        ctx = _bare(uow, start + 5 * SECOND)
        await hold(ctx, t)
        await uow.commit()
    watch_at = Clock(start + timedelta(seconds=15))
    watch = SlaWatch(factory, now=watch_at)
    assert (await watch.tick()).acted == 0
    async with UnitOfWork(factory) as uow:
        assert await uow.desk.next_due_at() is None
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        await resume(_bare(uow, start + 65 * SECOND), t)
        await uow.commit()
    # Held for 60 s: the warning at 15 s moves to 75 s.
    t = await ticket(factory, ref)
    assert t.response_warn_at == start + timedelta(seconds=75)
    watch_at.at = start + timedelta(seconds=74)
    assert (await watch.tick()).acted == 0
    assert await outbox(factory) == []
    watch_at.at = start + timedelta(seconds=75)
    assert (await watch.tick()).acted == 1
    assert "close to its response target" in (await outbox(factory))[0].text


async def test_two_watchers_in_a_handover_warn_once(factory: SessionFactory) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_warn_at is not None
    at = t.response_warn_at
    one, two = SlaWatch(factory, now=lambda: at), SlaWatch(factory, now=lambda: at)
    results = await asyncio.gather(one.tick(), two.tick())
    assert sum(r.acted for r in results) == 1
    assert len(await outbox(factory)) == 1
    assert [a for a, _ in await events(factory, ref)].count("sla_warning") == 1


async def test_a_watcher_that_read_a_ticket_before_the_other_acted_skips_it(
    factory: SessionFactory,
) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_warn_at is not None
    assert t.sla_next_at is not None
    at = t.response_warn_at
    late = SlaWatch(factory, now=lambda: at)
    seen = t.sla_next_at
    # The other leader acts first...
    await SlaWatch(factory, now=lambda: at).tick()
    # ...then the late one handles what it read before that.
    result = TickResult(outbox_ids=[])
    await late._one(t.id, result, act_on_clock, at, seen=seen)
    assert (result.acted, result.lost) == (0, 1)
    assert len(await outbox(factory)) == 1


async def test_a_race_lost_on_one_ticket_of_a_batch_loses_only_that_ticket(
    factory: SessionFactory,
) -> None:
    await p1_on_vpn(factory)
    replies = await say(
        factory,
        report_incident,
        "alice@example.com",
        "VPN is down on the second floor too",
        now=datetime.now(UTC),
        entities=(entity("service", "VPN"), entity("urgency", "high")),
    )
    assert "INC-2" in replies[0].text
    await opened_at(factory, "INC-2", IN_HOURS)
    first, second = await ticket(factory, "INC-1"), await ticket(factory, "INC-2")
    assert first.response_warn_at == second.response_warn_at
    at = first.response_warn_at
    assert at is not None

    async def raced(uow: UnitOfWork, t: Ticket, now: datetime) -> list[Outgoing]:
        if t.id == first.id:
            # Another leader moved INC-1 after this one read it.
            await uow.session.execute(
                update(Ticket)
                .where(Ticket.id == t.id)
                .values(version=Ticket.version + 1)
                .execution_options(synchronize_session=False)
            )
        return await act_on_clock(uow, t, now)

    result = TickResult(outbox_ids=[])
    watch = SlaWatch(factory, now=lambda: at)
    await watch._many(
        [(first.id, first.sla_next_at), (second.id, second.sla_next_at)], result, raced, at
    )
    assert (result.acted, result.lost) == (1, 1)
    [sent] = await outbox(factory)
    assert sent.text.startswith("INC-2 (P1) is close to its response target")
    assert "sla_warning" not in [a for a, _ in await events(factory, "INC-1")]
    assert "sla_warning" in [a for a, _ in await events(factory, "INC-2")]
    # INC-1 is still due: the next tick warns it.
    assert (await ticket(factory, "INC-1")).sla_next_at == at
    assert (await watch.tick()).acted == 1
    assert len(await outbox(factory)) == 2


async def test_sleep_until_the_next_instant_at_most_the_longest_wait(
    factory: SessionFactory,
) -> None:
    ref = await p1_on_vpn(factory)
    t = await ticket(factory, ref)
    assert t.response_warn_at is not None
    watch = SlaWatch(factory, now=lambda: t.response_warn_at - timedelta(seconds=4), longest=10)
    assert await watch.seconds_to_next() == 4.0
    watch.now = lambda: t.response_warn_at - timedelta(minutes=5)
    assert await watch.seconds_to_next() == 10.0
