"""A commit that opens a ticket or moves its clock wakes the watcher at once.

The watcher here sleeps up to an hour between looks, so only a kick can make it act within
the test's few seconds. Its clock runs ahead of the real one (a 20 s target is already
over for it), so the breach is due the moment the ticket exists.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.sla_kick import KICKS, Kicks, decode, encode
from bot.sla_watch import SlaWatch
from handlers.incidents import report_incident
from store.db import SessionFactory
from store.enums import TicketKind
from store.types import utcnow
from store.uow import UnitOfWork
from tests.unit.sla.conftest import entity, outbox, say


async def breaches(factory: SessionFactory) -> list[str]:
    return [s.text for s in await outbox(factory) if "breached its response target" in s.text]


async def test_a_new_ticket_with_a_short_target_breaches_without_waiting_for_a_tick(
    factory: SessionFactory,
) -> None:
    ahead = timedelta(seconds=30)
    watch = SlaWatch(factory, now=lambda: utcnow() + ahead, longest=3600, sweep=3600)
    leading = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop, leading.is_set))
    try:
        leading.set()
        watch.kick()
        # Let it look once and go to sleep with nothing due: an hour.
        await asyncio.sleep(0.3)
        assert await watch.seconds_to_next() == 3600
        await say(
            factory,
            report_incident,
            "alice@example.com",
            "VPN is down for everyone",
            now=datetime.now(UTC),
            entities=(entity("service", "VPN"), entity("urgency", "high")),
        )
        async with asyncio.timeout(10):
            while not await breaches(factory):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    [breach] = await breaches(factory)
    assert breach.startswith("INC-1 (P1) breached its response target")


async def test_a_rolled_back_change_does_not_kick(factory: SessionFactory) -> None:
    wake = asyncio.Event()
    KICKS.watch(wake)
    try:
        async with UnitOfWork(factory) as uow:
            person = await uow.people.by_email("alice@example.com")
            assert person is not None
            await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="never committed",
                requester=person,
                description="",
            )
            await uow.flush()
        assert not wake.is_set()
        await say(
            factory,
            report_incident,
            "alice@example.com",
            "VPN is down for everyone",
            now=datetime.now(UTC),
            entities=(entity("service", "VPN"),),
        )
        assert wake.is_set()
    finally:
        KICKS.unwatch(wake)


async def test_a_ticket_opened_with_a_clock_kicks_with_its_instant_and_one_without_does_not(
    factory: SessionFactory,
) -> None:
    heard: list[datetime | None] = []
    wake = asyncio.Event()
    KICKS.watch(wake)
    original = KICKS.kick
    KICKS.kick = lambda at=None: (heard.append(at), original(at))[1]  # type: ignore[method-assign]
    due = utcnow() + timedelta(minutes=5)
    try:
        async with UnitOfWork(factory) as uow:
            person = await uow.people.by_email("alice@example.com")
            assert person is not None
            await uow.tickets.create(
                kind=TicketKind.INCIDENT, title="no clock", requester=person, description=""
            )
            await uow.commit()
        assert heard == []
        assert not wake.is_set()
        async with UnitOfWork(factory) as uow:
            person = await uow.people.by_email("alice@example.com")
            assert person is not None
            for minutes in (9, 5, 7):
                await uow.tickets.create(
                    kind=TicketKind.INCIDENT,
                    title="with a clock",
                    requester=person,
                    description="",
                    sla_next_at=due + timedelta(minutes=minutes - 5),
                )
            await uow.commit()
        assert heard == [due]
        assert wake.is_set()
    finally:
        KICKS.kick = original  # type: ignore[method-assign]
        KICKS.unwatch(wake)


async def test_a_moved_clock_kicks_and_a_stopped_one_does_not(factory: SessionFactory) -> None:
    heard: list[datetime | None] = []
    original = KICKS.kick
    KICKS.kick = lambda at=None: (heard.append(at), original(at))[1]  # type: ignore[method-assign]
    first = utcnow() + timedelta(hours=1)
    try:
        async with UnitOfWork(factory) as uow:
            person = await uow.people.by_email("alice@example.com")
            assert person is not None
            ticket = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="clocked",
                requester=person,
                description="",
                sla_next_at=first,
            )
            await uow.commit()
        sooner = first - timedelta(minutes=50)
        async with UnitOfWork(factory) as uow:
            found = await uow.tickets.get(ticket.id)
            assert found is not None
            found.sla_next_at = sooner
            await uow.commit()
        async with UnitOfWork(factory) as uow:
            found = await uow.tickets.get(ticket.id)
            assert found is not None
            found.sla_next_at = None
            found.title = "on hold"
            await uow.commit()
        assert heard == [first, sooner]
    finally:
        KICKS.kick = original  # type: ignore[method-assign]


def test_a_watcher_planning_to_wake_sooner_sleeps_through_a_later_kick() -> None:
    kicks = Kicks()
    plan = utcnow() + timedelta(seconds=10)
    planned = asyncio.Event()
    unplanned = asyncio.Event()
    kicks.watch(planned, lambda: plan)
    kicks.watch(unplanned)
    kicks.kick(plan + timedelta(minutes=30))
    assert not planned.is_set()
    assert unplanned.is_set()
    kicks.kick(plan)  # due when it wakes anyway: no need to wake it sooner
    assert not planned.is_set()
    kicks.kick(plan - timedelta(seconds=1))
    assert planned.is_set()
    planned.clear()
    kicks.kick()  # no instant: wake regardless
    assert planned.is_set()


def test_a_published_kick_carries_its_instant_and_anything_else_wakes() -> None:
    at = datetime(2026, 12, 6, 9, 30, 15, 250000, tzinfo=UTC)
    assert decode(encode(at).encode()) == at
    assert encode(None) == "1"
    assert decode(b"1") is None
    assert decode("2026-12-06T09:30:00") is None  # no zone: wake rather than guess
    assert decode(b"\xff") is None


@pytest.mark.integration
async def test_a_kick_reaches_other_processes_through_redis(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    sender = Kicks()
    receiver = Kicks()
    publisher = Redis.from_url(url, socket_timeout=10)
    listener = Redis.from_url(url, socket_timeout=10)
    sender.bind(publisher, prefix)
    receiver.bind(listener, prefix)
    wake = asyncio.Event()
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.listen(listener, wake, stop))
    try:
        async with asyncio.timeout(10):
            # Subscribing takes a moment: kick until the listener hears one.
            while not wake.is_set():
                sender.kick()
                await asyncio.sleep(0.1)
        assert sender.sent >= 1
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await publisher.aclose()
        await listener.aclose()


@pytest.mark.integration
async def test_a_published_kick_wakes_a_remote_watcher_only_before_its_plan(
    redis_target: tuple[str, str],
) -> None:
    url, prefix = redis_target
    sender = Kicks()
    publisher = Redis.from_url(url, socket_timeout=10)
    listener = Redis.from_url(url, socket_timeout=10)
    sender.bind(publisher, prefix)
    plan = utcnow() + timedelta(seconds=10)
    asked: list[datetime | None] = []

    def planned() -> datetime | None:
        asked.append(plan)  # asked once for every kick heard
        return plan

    wake = asyncio.Event()
    stop = asyncio.Event()
    receiver = Kicks()
    receiver.bind(listener, prefix)
    task = asyncio.create_task(receiver.listen(listener, wake, stop, planned))
    try:
        async with asyncio.timeout(10):
            while not asked:
                sender.kick(plan + timedelta(minutes=5))
                await asyncio.sleep(0.1)
        assert not wake.is_set()
        async with asyncio.timeout(10):
            while not wake.is_set():
                sender.kick(plan - timedelta(seconds=5))
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await publisher.aclose()
        await listener.aclose()
