"""A commit that opens a ticket or moves its clock wakes the watcher at once.

The watcher here sleeps up to an hour between looks, so only a kick can make it act within
the test's few seconds. Its clock runs ahead of the real one (a 20 s target is already
over for it), so the breach is due the moment the ticket exists.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis

from bot.sla_kick import KICKS, Kicks, Planned, decode, encode
from bot.sla_watch import SlaWatch
from handlers.incidents import report_incident
from store.db import SessionFactory
from store.enums import TicketKind
from store.types import utcnow
from store.uow import UnitOfWork
from tests.unit.sla.conftest import entity, outbox, say


async def breaches(factory: SessionFactory) -> list[str]:
    return [s.text for s in await outbox(factory) if "breached its response target" in s.text]


async def open_tickets(
    factory: SessionFactory, *clocks: datetime | None, commit: bool = True
) -> list[int]:
    """Alice's new incidents, one for each `sla_next_at` given (None: no clock), in one unit
    of work that commits, or with `commit=False` is only flushed and then rolled back."""
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email("alice@example.com")
        assert person is not None
        ids = [
            (
                await uow.tickets.create(
                    kind=TicketKind.INCIDENT,
                    title="opened",
                    requester=person,
                    description="",
                    **({} if at is None else {"sla_next_at": at}),
                )
            ).id
            for at in clocks
        ]
        await (uow.commit() if commit else uow.flush())
    return ids


@contextlib.contextmanager
def heard_kicks() -> Iterator[list[datetime | None]]:
    """The instants `KICKS.kick` is called with while the block runs; the kicks still go out."""
    heard: list[datetime | None] = []
    original = KICKS.kick

    def kick(at: datetime | None = None) -> None:
        heard.append(at)
        original(at)

    KICKS.kick = kick  # type: ignore[method-assign]
    try:
        yield heard
    finally:
        KICKS.kick = original  # type: ignore[method-assign]


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
        await open_tickets(factory, utcnow(), commit=False)
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
    wake = asyncio.Event()
    KICKS.watch(wake)
    due = utcnow() + timedelta(minutes=5)
    try:
        with heard_kicks() as heard:
            await open_tickets(factory, None)
            assert heard == []
            assert not wake.is_set()
            await open_tickets(factory, due + timedelta(minutes=4), due, due + timedelta(minutes=2))
            assert heard == [due]
            assert wake.is_set()
    finally:
        KICKS.unwatch(wake)


async def test_a_moved_clock_kicks_and_a_stopped_one_does_not(factory: SessionFactory) -> None:
    first = utcnow() + timedelta(hours=1)
    sooner = first - timedelta(minutes=50)
    with heard_kicks() as heard:
        [ticket_id] = await open_tickets(factory, first)
        for at, title in ((sooner, "moved"), (None, "on hold")):
            async with UnitOfWork(factory) as uow:
                found = await uow.tickets.get(ticket_id)
                assert found is not None
                found.sla_next_at, found.title = at, title
                await uow.commit()
    assert heard == [first, sooner]


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


@contextlib.asynccontextmanager
async def over_redis(
    redis_target: tuple[str, str], wake: asyncio.Event, planned: Planned | None = None
) -> AsyncIterator[Kicks]:
    """A sender's kicks, published through Redis to a listener that sets `wake`."""
    url, prefix = redis_target
    publisher = Redis.from_url(url, socket_timeout=10)
    listener = Redis.from_url(url, socket_timeout=10)
    sender, receiver = Kicks(), Kicks()
    sender.bind(publisher, prefix)
    receiver.bind(listener, prefix)
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.listen(listener, wake, stop, planned or (lambda: None)))
    try:
        yield sender
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await publisher.aclose()
        await listener.aclose()


@pytest.mark.integration
async def test_a_kick_reaches_other_processes_through_redis(
    redis_target: tuple[str, str],
) -> None:
    wake = asyncio.Event()
    async with over_redis(redis_target, wake) as sender:
        async with asyncio.timeout(10):
            # Subscribing takes a moment: kick until the listener hears one.
            while not wake.is_set():
                sender.kick()
                await asyncio.sleep(0.1)
        assert sender.sent >= 1


@pytest.mark.integration
async def test_a_published_kick_wakes_a_remote_watcher_only_before_its_plan(
    redis_target: tuple[str, str],
) -> None:
    plan = utcnow() + timedelta(seconds=10)
    asked: list[datetime | None] = []

    def planned() -> datetime | None:
        asked.append(plan)  # asked once for every kick heard
        return plan

    wake = asyncio.Event()
    async with over_redis(redis_target, wake, planned) as sender:
        async with asyncio.timeout(10):
            while not asked:
                sender.kick(plan + timedelta(minutes=5))
                await asyncio.sleep(0.1)
        assert not wake.is_set()
        async with asyncio.timeout(10):
            while not wake.is_set():
                sender.kick(plan - timedelta(seconds=5))
                await asyncio.sleep(0.1)
