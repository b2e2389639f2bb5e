"""Timed work of the worker role; singletons run only on the leader.

- Recovery sweep: pending inbox rows with no queue entry (a web process died between its
  commit and the enqueue, or Redis lost the entry) are queued again.
- NLU service names refreshed from the configuration database.
- Expired dialogue state purged.
- Article offers left unanswered filed as tickets (`bot.deflection_watch`).
- Polling channels (X mentions, Telegram long polling, Slack Socket Mode) on the leader;
  a channel with nothing to poll (`polls` False) is never started.

Every job rides out outages: it backs off (capped, jittered) and logs once when an outage
starts and once when it ends. Leadership lapses when it cannot be renewed within its time
to live, so a worker cut off from Redis stops acting as the leader.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

import structlog

from bot import deflection_watch, metrics, sla_watch
from bot.container import Container
from bot.resilience import Outage, sleep_or_stop
from bot.swarm import Swarms
from channels.base import PollingChannel
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)


class Scheduler:
    """The worker role's timed jobs; the singletons among them run only on the leader."""

    def __init__(
        self,
        container: Container,
        *,
        sweep_every: float = 15.0,
        stale_after: float = 30.0,
        refresh_every: float = 60.0,
        lead_every: float = 5.0,
    ) -> None:
        self.c = container
        self.sweep_every = sweep_every
        self.stale_after = stale_after
        self.refresh_every = refresh_every
        self.lead_every = lead_every
        self.holder = f"{socket.gethostname()}-{os.getpid()}"
        self.leading = False
        self._led_at = 0.0
        # After the queue was away its entries may be lost: sweep once even with a backlog.
        self._sweep_all = False
        self._swarm: Swarms | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run every job until `stop` is set; each rides out its own outages."""
        jobs = [
            self._every(stop, self.lead_every, self._lead),
            self._every(stop, self.sweep_every, self._sweep),
            self._every(stop, 600.0, self._purge),
        ]
        if self.c.understander is not None:
            jobs.append(self._every(stop, self.refresh_every, self.c.refresh_services))
        jobs.append(self._pollers(stop))
        jobs.append(self._every(stop, 5.0, self._swarms))
        jobs.append(self._every(stop, 3600.0, self._suggestions))
        jobs.append(sla_watch.for_container(self.c).run(stop, lambda: self.leading))
        jobs.append(self._every(stop, deflection_watch.EVERY, self._deflections))
        await asyncio.gather(*jobs)

    async def _every(
        self, stop: asyncio.Event, seconds: float, job: Callable[[], Awaitable[object]]
    ) -> None:
        name = getattr(job, "__name__", "?").strip("_")
        outage = Outage(f"scheduler.{name}", cap=max(seconds, 10.0))
        while not stop.is_set():
            try:
                await job()
            except Exception as e:
                await sleep_or_stop(stop, outage.failed(e))
                continue
            outage.recovered()
            await sleep_or_stop(stop, seconds)

    async def _lead(self) -> None:
        was = self.leading
        ttl_ms = int(self.lead_every * 3000)
        try:
            self.leading = await self.c.state.lead("scheduler", self.holder, ttl_ms)
        except Exception:
            if self.leading and time.monotonic() - self._led_at > ttl_ms / 1000:
                self.leading = False  # the key has expired by now; another may lead
                log.info("scheduler.leadership", leading=False)
            self._sweep_all = True
            raise
        if self.leading:
            self._led_at = time.monotonic()
        if self.leading != was:
            log.info("scheduler.leadership", leading=self.leading)

    async def _sweep(self) -> None:
        if not self.leading:
            return
        depth = await self.c.queue.depth()
        metrics.QUEUE_DEPTH.set(depth)
        if depth > 0 and not self._sweep_all:
            # With a backlog, pending rows are most likely queued already.
            return
        async with UnitOfWork(self.c.factory) as uow:
            ids = await uow.inbox.pending_ids(
                older_than=uow.inbox.stale_before(self.stale_after), limit=500
            )
        if ids:
            await self.c.queue.put(ids)
            log.info("scheduler.requeued", count=len(ids))
        self._sweep_all = self._sweep_all and len(ids) == 500

    async def _swarms(self) -> None:
        if not self.leading:
            return
        if self._swarm is None:
            self._swarm = Swarms(self.c.settings, self.c.factory)
        await self._swarm.run_once()

    async def _deflections(self) -> None:
        if self.leading:
            await deflection_watch.for_container(self.c)

    async def _suggestions(self, at: datetime | None = None) -> None:
        """Once per ISO week, the leader sends the desk leads the data's new improvements."""
        if not self.leading:
            return
        from bot.delivery import add_outgoing
        from handlers.improvements import suggest_to_leads
        from store.types import utcnow

        now = at or utcnow()
        year, week, _ = now.isocalendar()
        key = f"improvements:suggested:{year}-{week:02d}"
        if await self.c.state.seen(key):
            return
        async with UnitOfWork(self.c.factory) as uow:
            outgoing = await suggest_to_leads(uow, now)
            rows = await add_outgoing(
                uow, outgoing, topics=self.c.topics, exclude=None, inbox_id=None
            )
            await uow.flush()
            ids = [r.id for r in rows if r.id is not None]
            await uow.commit()
        await self.c.state.remember(key, ttl_seconds=8 * 86_400)
        if ids and self.c.dispatcher is not None:
            self.c.dispatcher.kick(ids)
        log.info("scheduler.suggestions", sent=len(ids))

    async def _purge(self) -> None:
        if not self.leading or self.c.dialogue is not None:
            return
        async with UnitOfWork(self.c.factory) as uow:
            await uow.dialogue.purge_expired()
            await uow.commit()

    async def _pollers(self, stop: asyncio.Event) -> None:
        pollers = [
            c
            for c in {id(c): c for c in self.c.channels.values()}.values()
            if isinstance(c, PollingChannel) and c.polls
        ]
        if not pollers:
            return
        running: dict[str, asyncio.Task[None]] = {}
        outages = {ch.name: Outage(f"poller.{ch.name}", base=self.lead_every) for ch in pollers}
        not_before: dict[str, float] = {}
        started: dict[str, float] = {}
        local_stop = asyncio.Event()
        while not stop.is_set():
            if self.leading and not running:
                local_stop = asyncio.Event()
            if self.leading:
                for ch in pollers:
                    task = running.get(ch.name)
                    if task is not None and not task.done():
                        continue
                    if task is not None:
                        error = None if task.cancelled() else task.exception()
                        if error is None:
                            continue  # it finished on its own: nothing more to poll
                        # A poller that died is started again, after a growing pause that
                        # starts over once it had been running a while.
                        running.pop(ch.name)
                        if time.monotonic() - started.get(ch.name, 0.0) > 60:
                            outages[ch.name].recovered()
                        not_before[ch.name] = time.monotonic() + outages[ch.name].failed(error)
                    if time.monotonic() < not_before.get(ch.name, 0.0):
                        continue
                    started[ch.name] = time.monotonic()
                    running[ch.name] = asyncio.create_task(
                        ch.run(self.c.ingest, local_stop), name=f"poll-{ch.name}"
                    )
            elif not self.leading and running:
                local_stop.set()
                await asyncio.gather(*running.values(), return_exceptions=True)
                running.clear()
            await sleep_or_stop(stop, min(self.lead_every, 1.0))
        local_stop.set()
        await asyncio.gather(*running.values(), return_exceptions=True)
