"""The watcher's loop: it acts once it leads, and stops when told."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.sla_watch import SlaWatch
from handlers.incidents import report_incident
from store.db import SessionFactory
from tests.unit.sla.conftest import IN_HOURS, entity, opened_at, outbox, say, ticket


async def test_the_loop_acts_once_leading_and_stops(factory: SessionFactory) -> None:
    await say(
        factory,
        report_incident,
        "alice@example.com",
        "VPN is down for everyone",
        now=datetime.now(UTC),
        entities=(entity("service", "VPN"), entity("urgency", "high")),
    )
    await opened_at(factory, "INC-1", IN_HOURS)
    t = await ticket(factory, "INC-1")
    assert t.response_warn_at is not None
    warn_at = t.response_warn_at
    leading = asyncio.Event()
    sent: list[list[int]] = []
    watch = SlaWatch(factory, now=lambda: warn_at, on_sent=sent.append, longest=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(watch.run(stop, leading.is_set))
    try:
        leading.set()
        watch.kick()
        async with asyncio.timeout(10):
            while not sent:
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
    [row] = await outbox(factory)
    assert "close to its response target" in row.text
    assert len(sent) == 1
