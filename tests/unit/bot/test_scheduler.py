"""The scheduler's pollers: started only when they have something to poll, restarted calmly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, ClassVar

from structlog.testing import capture_logs

from bot.scheduler import Scheduler
from channels.base import Delivery, Ingest
from channels.conversation import Address, Reply
from store.state import LocalState


class Poller:
    name: ClassVar[str] = "poller"
    platforms: ClassVar[tuple[str, ...]] = ("poller",)

    def __init__(self, *, polls: bool, fails: bool = False) -> None:
        self._polls = polls
        self.fails = fails
        self.runs = 0
        self.ran = asyncio.Event()

    @property
    def polls(self) -> bool:
        return self._polls

    def routes(self, ingest: Ingest) -> Sequence[Any]:
        return []

    async def start(self) -> None:
        return None

    async def send(self, address: Address, reply: Reply) -> Delivery:
        return Delivery()

    async def aclose(self) -> None:
        return None

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        self.runs += 1
        if self.runs >= 3:
            self.ran.set()
        if self.fails:
            raise RuntimeError("platform said no")
        await stop.wait()


def scheduler(channel: Poller) -> Scheduler:
    container = SimpleNamespace(channels={"poller": channel}, ingest=None, state=LocalState())
    s = Scheduler(container, lead_every=0.02)  # type: ignore[arg-type]
    s.leading = True
    return s


async def test_a_channel_with_nothing_to_poll_is_never_started() -> None:
    idle = Poller(polls=False)
    # Returns at once instead of looping until stopped.
    await asyncio.wait_for(scheduler(idle)._pollers(asyncio.Event()), timeout=5)
    assert idle.runs == 0


async def test_a_failing_poller_is_restarted_and_reported_once() -> None:
    failing = Poller(polls=True, fails=True)
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(scheduler(failing)._pollers(stop))
        await asyncio.wait_for(failing.ran.wait(), timeout=10)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert failing.runs >= 3
    assert [e["event"] for e in logs if e.get("loop") == "poller.poller"] == ["loop.failed"]
