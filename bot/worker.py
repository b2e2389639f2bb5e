"""The worker's consumer loop: claim events, understand them, hand them over, then ack.

Each event is handled in one transaction that also writes its replies to the outbox and
marks the inbox row done (`bot.handling`); the queue entry is acknowledged only after that
commit. A worker killed at any point leaves either a pending row (claimed again) or a done
row (skipped), so nothing is lost and nothing is handled twice. Rows that cannot be handled
now are tried again later or dead-lettered (`bot.redelivery`).

The worker rides out outages of the database and Redis: its loop backs off and tries again,
and never ends before it is told to stop. The NLU runs on a thread of its own, so the event
loop keeps answering webhooks (embedded mode) while a batch is parsed; platform profile
look-ups (Slack `users.info`) happen before any transaction opens or lock is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from bot import faults, metrics
from bot.handling import EventHandling, Understood
from bot.identity import profiles_of_newcomers
from bot.priority import GiveWay, no_wait
from bot.redelivery import APOLOGY, Claimed, Redelivery
from bot.resilience import Outage, sleep_or_stop
from bot.router import IntentRouter
from channels.base import ProfileSource
from channels.conversation import Action, Address, Event, Message, event_from_dict
from nlu.types import IntentName, Understander, Understanding
from store.db import SessionFactory
from store.outage import is_outage
from store.queue import Job, Queue
from store.state import Dialogue, SharedState
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.outbox import Dispatcher

__all__ = ["APOLOGY", "Claimed", "Worker"]

log = structlog.get_logger(__name__)

# Seconds a thread may hold the GIL while another waits for it, in a SQLite process.
SQLITE_SWITCH_INTERVAL = 0.0005


class Worker:
    """Processes queued inbox events; one instance per worker process (or embedded app)."""

    def __init__(
        self,
        *,
        factory: SessionFactory,
        queue: Queue,
        state: SharedState,
        understander: Understander,
        router: IntentRouter,
        topics: Callable[[str], Sequence[Address]],
        dialogue: Dialogue | None = None,
        dispatcher: Dispatcher | None = None,
        batch: int = 64,
        concurrency: int = 16,
        max_deliveries: int = 5,
        max_text_chars: int = 4000,
        dialogue_ttl: int = 900,
        profiles: Mapping[str, ProfileSource] | None = None,
        mail: bool = False,
        per_transaction: int | None = None,
        give_way: GiveWay = no_wait,
    ) -> None:
        self.factory = factory
        self.queue = queue
        self.nlu = understander
        self.dispatcher = dispatcher
        self.batch = batch
        self.max_deliveries = max_deliveries
        self.max_text_chars = max_text_chars
        self.profiles = dict(profiles or {})
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self.redelivery = Redelivery(factory=factory, queue=queue, max_deliveries=max_deliveries)
        self.handling = EventHandling(
            factory=factory,
            state=state,
            router=router,
            topics=topics,
            redelivery=self.redelivery,
            dialogue=dialogue,
            concurrency=concurrency,
            dialogue_ttl=dialogue_ttl,
            mail=mail,
            per_transaction=per_transaction,
            give_way=give_way,
        )
        self._unacked: list[Job] = []
        # A batch whose attempt was counted and whose handling an outage interrupted.
        self._resume: tuple[list[Job], list[Claimed]] | None = None
        # One thread: spaCy parses one batch at a time, off the event loop.
        self._nlu_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")

    @property
    def state(self) -> SharedState:
        """The shared state (locks, dialogue, counters) events are handled with."""
        return self.handling.state

    @state.setter
    def state(self, state: SharedState) -> None:
        self.handling.state = state

    async def recover(self) -> int:
        """Queue every pending inbox row again (the embedded queue starts empty)."""
        async with UnitOfWork(self.factory) as uow:
            ids = await uow.inbox.pending_ids(limit=100_000)
        if ids:
            await self.queue.put(ids)
            log.info("worker.recovered", count=len(ids))
        return len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and process batches until `stop` is set, riding out any outage."""
        log.info("worker.started", consumer=self.consumer)
        freeze_startup_objects()
        if self.handling.per_transaction is not None:
            # SQLite: every statement is a round trip to aiosqlite's thread, which then waits
            # for the GIL while the loop or the NLU thread holds it, by default up to 5 ms a
            # time. About twenty statements a message made that wait most of its time.
            sys.setswitchinterval(min(sys.getswitchinterval(), SQLITE_SWITCH_INTERVAL))
        outage = Outage("worker")
        jobs: list[Job] = []
        try:
            while not stop.is_set():
                try:
                    await self._ack(())
                    if self._resume is not None:
                        await self._finish(*self._resume)
                    else:
                        jobs = jobs or await self.queue.claim(
                            self.consumer, count=self.batch, block_ms=1000
                        )
                        if jobs:
                            await self.process(jobs)
                    jobs = []
                    outage.recovered()
                except Exception as e:
                    # After an outage the same batch is tried again, without counting another
                    # attempt on its rows (rows it already finished are recognised then);
                    # after a bug the queue redelivers.
                    if not is_outage(e):
                        jobs, self._resume = [], None
                    await sleep_or_stop(stop, outage.failed(e))
        finally:
            self.redelivery.cancel()
            self._nlu_thread.shutdown(wait=False, cancel_futures=True)
            log.info("worker.stopped", consumer=self.consumer)

    async def process(self, jobs: Sequence[Job]) -> None:
        """Handle a batch of claimed jobs and acknowledge those that are finished."""
        # The same row may be queued twice (a recovery sweep, a redelivery): it is handled
        # once, and every entry naming it is acknowledged with it.
        claimed, finished = await self._claim_rows(list(dict.fromkeys(j.inbox_id for j in jobs)))
        if claimed:
            faults.reached("crash_after_claim")
        self._unacked += _entries(jobs, finished)
        self._resume = (list(jobs), claimed)
        await self._finish(jobs, claimed)

    async def _finish(self, jobs: Sequence[Job], claimed: list[Claimed]) -> None:
        """Handle rows whose attempt is counted already, commit, then acknowledge.

        Called again with the same rows when an outage interrupted it.
        """
        if not claimed:
            await self._ack(())
            self._resume = None
            return
        claimed, retried = await self._with_profiles(claimed)
        understood = await self._understand([c.event for c in claimed])
        groups: dict[str, list[Understood]] = defaultdict(list)
        for c, u in zip(claimed, understood, strict=True):
            groups[c.event.address.key].append((c, u))
        ok_ids, written = await self.handling.groups(groups)
        faults.reached("crash_after_commit")
        # Jobs neither done nor retried stay unacknowledged: the queue hands them out again.
        self._resume = None
        await self._ack(_entries(jobs, [*ok_ids, *retried]))
        if written and self.dispatcher is not None:
            self.dispatcher.kick([i for i, _ in written], platforms={p for _, p in written})
        with contextlib.suppress(Exception):
            metrics.QUEUE_DEPTH.set(await self.queue.depth())

    async def _ack(self, jobs: Sequence[Job]) -> None:
        """Acknowledge `jobs` and any left over from a failed attempt.

        When the queue is away the jobs are kept and acknowledged on the next round; were
        they lost, redelivery would only find rows already done.
        """
        pending = [*self._unacked, *jobs]
        if not pending:
            return
        self._unacked = []
        try:
            await self.queue.ack(pending)
        except Exception:
            self._unacked = pending[-10_000:]
            raise

    async def _claim_rows(self, ids: Sequence[int]) -> tuple[list[Claimed], list[int]]:
        """Count a delivery on each pending row; split off rows already handled or poisoned."""
        claimed: list[Claimed] = []
        finished: list[int] = []
        poisoned: list[tuple[int, Event | None]] = []
        async with UnitOfWork(self.factory) as uow:
            rows = await uow.inbox.start_attempts(ids)
            await uow.commit()
        for i in ids:
            row = rows.get(i)
            if row is None:
                finished.append(i)
                continue
            try:
                event: Event | None = event_from_dict(row.payload)
            except (KeyError, TypeError, ValueError) as e:
                log.error("worker.bad_payload", inbox_id=i, error=str(e))
                event = None
            if event is None or row.deliveries > self.max_deliveries:
                poisoned.append((i, event))
                continue
            if row.deliveries > 1:
                metrics.QUEUE_REDELIVERIES.inc()
            claimed.append(Claimed(i, row.deliveries, event))
        for i, event in poisoned:
            await self.redelivery.dead_letter(
                i, event, "too many failed attempts or unreadable payload"
            )
            finished.append(i)
        return claimed, finished

    async def _with_profiles(self, claimed: list[Claimed]) -> tuple[list[Claimed], list[int]]:
        """Events with their senders' profiles; ids of events whose look-up failed (retried)."""
        found = await profiles_of_newcomers(
            self.factory, (c.event.sender for c in claimed), self.profiles
        )
        ready: list[Claimed] = []
        retried: list[int] = []
        for c in claimed:
            answer = found.get((c.event.sender.platform, c.event.sender.external_id))
            if isinstance(answer, Exception):
                log.warning("worker.profile_failed", inbox_id=c.inbox_id, error=repr(answer))
                await self.redelivery.failed(c, answer)
                retried.append(c.inbox_id)
            else:
                ready.append(
                    c if answer is None else replace(c, event=replace(c.event, sender=answer))
                )
        return ready, retried

    async def _understand(self, events: Sequence[Event]) -> list[Understanding]:
        texts = [self._text(e) for e in events]
        wanted = [i for i, t in enumerate(texts) if t]
        parsed: dict[int, Understanding] = {}
        if wanted:
            # Times such as "Saturday 22:00" are read in the understander's own timezone.
            batch = [texts[i] for i in wanted]
            loop = asyncio.get_running_loop()
            with metrics.NLU_SECONDS.time():
                results = await loop.run_in_executor(self._nlu_thread, self.nlu.parse_many, batch)
            for i, u in zip(wanted, results, strict=True):
                parsed[i] = u
                metrics.NLU_CONFIDENCE.labels(u.intent.value).observe(u.confidence)
        return [
            parsed.get(i)
            or Understanding(
                text="",
                intent=IntentName.OUT_OF_SCOPE,
                confidence=0.0,
                threshold=self.nlu.threshold,
            )
            for i in range(len(events))
        ]

    def _text(self, event: Event) -> str:
        raw = event.text if isinstance(event, Message | Action) else ""
        # spaCy's memory grows with text length; nobody's chat message needs more than this.
        return raw[: self.max_text_chars]

    async def handle(self, claimed: Claimed, nlu: Understanding) -> list[int]:
        """One event, one transaction; retried when another worker changed the same rows."""
        return [i for i, _ in await self.handling.one(claimed, nlu)]


_frozen = False


def freeze_startup_objects() -> None:
    """Leave what start-up made (the NLU model above all) out of every later collection.

    Those are millions of objects that live as long as the process, and a full collection
    walked them all: pauses of hundreds of milliseconds, in which the event loop answered
    nothing, came every few hundred messages. Done once per process: later objects are
    collected as usual.
    """
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()


def _entries(jobs: Sequence[Job], inbox_ids: Sequence[int]) -> list[Job]:
    """The queue entries naming any of `inbox_ids`."""
    wanted = set(inbox_ids)
    return [j for j in jobs if j.inbox_id in wanted]
