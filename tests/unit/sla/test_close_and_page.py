"""Auto-close after the quiet period, and on-call paging, with an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.sla_watch import SlaWatch
from handlers.escalation import paging_order
from handlers.incidents import assign_to_me, reopen, report_incident, resolve
from nlu.types import IntentName
from store.db import SessionFactory
from store.enums import Status
from store.uow import UnitOfWork
from tests.unit.sla.conftest import entity, events, outbox, say, ticket

# Saturday 5 December 2026, 10:00 UTC: outside the office calendar (Mon-Fri 08-18 Berlin).
SATURDAY = datetime(2026, 12, 5, 10, tzinfo=UTC)
# Tuesday 1 December 2026, 10:00 UTC: inside it.
TUESDAY = datetime(2026, 12, 1, 10, tzinfo=UTC)


async def email_incident_resolved(factory: SessionFactory) -> datetime:
    """A P3 on Email (service desk, a whole team affected), resolved by Bob; when it was resolved."""
    now = datetime.now(UTC)
    await say(
        factory,
        report_incident,
        "alice@example.com",
        "Email is broken for the whole team",
        now=now,
        entities=(entity("service", "Email"),),
    )
    resolved = now + timedelta(minutes=5)
    await say(
        factory,
        resolve,
        "bob@example.com",
        "INC-1 fixed the mailbox",
        now=resolved,
        intent=IntentName.RESOLVE_TICKET,
        entities=(entity("ticket_ref", "INC-1"),),
    )
    t = await ticket(factory, "INC-1")
    assert t.status is Status.RESOLVED
    assert t.sla_next_at is None
    return resolved


async def test_a_resolved_ticket_closes_after_the_quiet_period(factory: SessionFactory) -> None:
    resolved = await email_incident_resolved(factory)
    # The agreement says `close_after: 1d`, round the clock.
    # `sweep=0`: look for tickets to close on every tick, not every 10 s.
    watch = SlaWatch(
        factory, now=lambda: resolved + timedelta(days=1) - timedelta(seconds=1), sweep=0
    )
    # Not closing yet; the one thing done is the satisfaction survey to the requester.
    assert (await watch.tick()).acted == 1
    assert (await ticket(factory, "INC-1")).status is Status.RESOLVED
    [asked] = await outbox(factory)
    assert asked.text.startswith("INC-1 (Email is broken for the whole team) is resolved.")

    at = resolved + timedelta(days=1)
    # Closing is swept every 10 s by default: one second later it is not looked at yet.
    lazy = SlaWatch(factory, now=lambda: at - timedelta(seconds=2))
    await lazy.tick()
    lazy.now = lambda: at
    assert (await lazy.tick()).acted == 0
    watch.now = lambda: at
    assert (await watch.tick()).acted == 1
    t = await ticket(factory, "INC-1")
    assert t.status is Status.CLOSED
    assert t.closed_at == at
    assert (await events(factory, "INC-1"))[-1] == ("closed", {"by": "auto-close", "quiet": "1d"})
    [sent] = [s for s in await outbox(factory) if "is closed" in s.text]
    # The requester raised it on the console: the notice goes back there.
    assert (sent.platform, sent.conversation) == ("console", "alice@example.com")
    # Closed once: a later tick has nothing to do.
    watch.now = lambda: at + timedelta(days=2)
    assert (await watch.tick()).acted == 0


async def test_a_reopened_ticket_is_not_closed(factory: SessionFactory) -> None:
    resolved = await email_incident_resolved(factory)
    await say(
        factory,
        reopen,
        "alice@example.com",
        "INC-1 is not fixed, still broken",
        now=resolved + timedelta(hours=2),
        intent=IntentName.REOPEN_TICKET,
        entities=(entity("ticket_ref", "INC-1"),),
    )
    await SlaWatch(factory, now=lambda: resolved + timedelta(days=4)).tick()
    t = await ticket(factory, "INC-1")
    assert t.status is Status.IN_PROGRESS
    assert t.closed_at is None
    assert "closed" not in [a for a, _ in await events(factory, "INC-1")]


async def urgent_vpn_at(factory: SessionFactory, at: datetime) -> str:
    await say(
        factory,
        report_incident,
        "alice@example.com",
        "VPN is down for everyone",
        now=at,
        entities=(entity("service", "VPN"), entity("urgency", "high")),
    )
    async with UnitOfWork(factory) as uow:
        t = await uow.tickets.by_ref("INC-1")
        assert t is not None
        t.created_at = at
        # Only paging is under test here: the response clock is left out.
        t.sla_next_at = None
        await uow.commit()
    return "INC-1"


def pages(sent: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(s.platform, s.conversation) for s in sent if s.text.startswith("Paging you")]


async def test_out_of_hours_p1_pages_on_call_then_the_next_until_acknowledged(
    factory: SessionFactory,
) -> None:
    ref = await urgent_vpn_at(factory, SATURDAY)
    watch = SlaWatch(factory, now=lambda: SATURDAY + timedelta(seconds=1))
    await watch.tick()
    # Erin's week (the rota starts Monday 30 November with her).
    first = await outbox(factory)
    assert pages(first) == [("slack", "U0ERIN")]
    assert first[0].actions == ("assign_me",)
    assert "arrived out of hours" in first[0].text

    # Within the 10 minutes' wait: nobody else is paged.
    watch.now = lambda: SATURDAY + timedelta(minutes=9)
    await watch.tick()
    assert pages(await outbox(factory)) == [("slack", "U0ERIN")]

    # No acknowledgement after 10 minutes: Wei, the next in the rota.
    watch.now = lambda: SATURDAY + timedelta(minutes=10, seconds=1)
    await watch.tick()
    assert pages(await outbox(factory)) == [("slack", "U0ERIN"), ("telegram", "5550103")]
    paged = [d for a, d in await events(factory, ref) if a == "paged"]
    assert paged == [{"to": "Erin Agent", "step": 1}, {"to": "Wei Agent", "step": 2}]

    # Wei acknowledges (the button takes the ticket): paging stops.
    await say(
        factory,
        assign_to_me,
        "wei@example.com",
        "",
        now=SATURDAY + timedelta(minutes=12),
        intent=IntentName.OUT_OF_SCOPE,
        entities=(entity("ticket_ref", ref),),
    )
    watch.now = lambda: SATURDAY + timedelta(hours=1)
    await watch.tick()
    assert len(pages(await outbox(factory))) == 2


async def test_everyone_paged_once_then_paging_stops(factory: SessionFactory) -> None:
    await urgent_vpn_at(factory, SATURDAY)
    watch = SlaWatch(factory, now=lambda: SATURDAY)
    for minutes in (0, 11, 22, 33, 44):
        watch.now = lambda m=minutes: SATURDAY + timedelta(minutes=m)  # type: ignore[misc]
        await watch.tick()
    # Erin, Wei, then Bob the lead; then nobody is left.
    assert pages(await outbox(factory)) == [
        ("slack", "U0ERIN"),
        ("telegram", "5550103"),
        ("telegram", "5550102"),
    ]


async def test_inside_working_hours_nobody_is_paged(factory: SessionFactory) -> None:
    await urgent_vpn_at(factory, TUESDAY)
    await SlaWatch(factory, now=lambda: TUESDAY + timedelta(minutes=30)).tick()
    assert pages(await outbox(factory)) == []


def test_paging_order_starts_with_who_is_on_call_and_ends_with_the_lead() -> None:
    rota = {"weekly": ["a@x", "b@x", "c@x"], "starts": "2026-11-30"}
    # The second week: b is on call, then c, then a, then the lead.
    assert paging_order(rota, datetime(2026, 12, 8, 12, tzinfo=UTC), "lead@x") == [
        "b@x",
        "c@x",
        "a@x",
        "lead@x",
    ]
    # A lead who is also on the rota is paged once.
    assert paging_order(rota, datetime(2026, 12, 1, 12, tzinfo=UTC), "b@x") == [
        "a@x",
        "b@x",
        "c@x",
    ]
