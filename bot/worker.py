"""The worker: claim events, understand them, run the handler and commit replies, then ack.

Each event is handled in one transaction that also writes its replies to the outbox and
marks the inbox row done; the queue entry is acknowledged only after that commit. A worker
killed at any point leaves either a pending row (claimed again) or a done row (skipped), so
nothing is lost and nothing is handled twice.

The worker rides out outages of the database and Redis: its loop backs off and tries again,
and never ends before it is told to stop. The NLU runs on a thread of its own, so the event
loop keeps answering webhooks (embedded mode) while a batch is parsed; platform profile
look-ups (Slack `users.info`) happen before any transaction opens or lock is taken.

(Over 400 lines: the path from claim to acknowledgement and each way it can fail are kept
in one module so that the at-least-once argument above can be checked in one reading.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from bot import faults, metrics
from bot.delivery import add_outgoing, add_reply
from bot.identity import profiles_of_newcomers, resolve_person
from bot.resilience import Outage, sleep_or_stop
from bot.router import DialogueChange, IntentRouter
from channels.base import ProfileSource
from channels.conversation import Action, Address, Event, Message, Reply, event_from_dict
from handlers.context import HandlerContext
from nlu.types import IntentName, Understander, Understanding
from store.db import SessionFactory
from store.errors import ConflictError
from store.models import OutboxMessage
from store.outage import is_outage
from store.queue import Job, Queue
from store.state import Dialogue, LockTimeout, SharedState
from store.types import utcnow
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.outbox import Dispatcher

log = structlog.get_logger(__name__)

APOLOGY = (
    "Sorry, I couldn't process your last message. The service desk has been told; "
    "please try again in a few minutes."
)


@dataclass(frozen=True, slots=True)
class Claimed:
    inbox_id: int
    deliveries: int
    event: Event


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
    ) -> None:
        self.factory = factory
        self.queue = queue
        self.state = state
        self.nlu = understander
        self.router = router
        self.topics = topics
        self.redis_dialogue = dialogue
        self.dispatcher = dispatcher
        self.batch = batch
        self.concurrency = asyncio.Semaphore(concurrency)
        self.max_deliveries = max_deliveries
        self.max_text_chars = max_text_chars
        self.dialogue_ttl = dialogue_ttl
        self.profiles = dict(profiles or {})
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._retry_tasks: set[asyncio.Task[None]] = set()
        self._unacked: list[Job] = []
        # A batch whose attempt was counted and whose handling an outage interrupted.
        self._resume: tuple[list[Job], list[Claimed]] | None = None
        # One thread: spaCy parses one batch at a time, off the event loop.
        self._nlu_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu")

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
            for t in list(self._retry_tasks):
                t.cancel()
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
        groups: dict[str, list[tuple[Claimed, Understanding]]] = defaultdict(list)
        for c, u in zip(claimed, understood, strict=True):
            groups[c.event.address.key].append((c, u))
        ok_ids, outbox_ids = await self._handle(groups)
        faults.reached("crash_after_commit")
        # Jobs neither done nor retried stay unacknowledged: the queue hands them out again.
        self._resume = None
        await self._ack(_entries(jobs, [*ok_ids, *retried]))
        if outbox_ids and self.dispatcher is not None:
            self.dispatcher.kick(outbox_ids)
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
            await self._dead_letter(i, event, "too many failed attempts or unreadable payload")
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
                await self._failed(c, answer)
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

    async def _handle(
        self, groups: Mapping[str, list[tuple[Claimed, Understanding]]]
    ) -> tuple[list[int], list[int]]:
        """Handle every conversation's events; the inbox ids done and the outbox ids written.

        Conversations whose locks are free right now go together in one transaction (one
        commit, one identity prefetch, one inbox update). Should that fail, or for the
        conversations another worker holds, each conversation goes on its own, in order,
        under its lock: the one path every event can fall back to.
        """
        held = await self.state.try_lock_many(list(groups))
        try:
            alone = dict(groups)
            results: list[tuple[list[int], list[int]] | BaseException] = []
            together = [item for key in held for item in groups[key]]
            if len(together) >= 2:
                try:
                    results.append(await self._handle_many(together))
                    alone = {k: v for k, v in groups.items() if k not in held}
                except Exception as e:
                    if is_outage(e):
                        raise
                    log.info("worker.batch_fallback", size=len(together), error=repr(e))
            results += await asyncio.gather(
                *(self._conversation(items, locked=key in held) for key, items in alone.items()),
                return_exceptions=True,
            )
        finally:
            with contextlib.suppress(Exception):
                await self.state.unlock_many(held)
        ok: list[int] = []
        outbox_ids: list[int] = []
        for result in results:
            if isinstance(result, BaseException):
                if is_outage(result) or not isinstance(result, Exception):
                    raise result
                log.error("worker.group_failed", error=repr(result))
                continue
            ok.extend(result[0])
            outbox_ids.extend(result[1])
        return ok, outbox_ids

    async def _conversation(
        self, items: list[tuple[Claimed, Understanding]], *, locked: bool = False
    ) -> tuple[list[int], list[int]]:
        """Handle one conversation's events in order, under its lock."""
        ok: list[int] = []
        outbox_ids: list[int] = []
        async with self.concurrency, contextlib.AsyncExitStack() as held:
            if not locked:
                key = items[0][0].event.address.key
                try:
                    await held.enter_async_context(self.state.conversation_lock(key))
                except LockTimeout:
                    # Another worker holds the conversation for long: try these events later.
                    log.info("worker.conversation_busy", count=len(items))
                    for claimed, _ in items:
                        self._later(claimed.inbox_id, 1.0)
                    return [c.inbox_id for c, _ in items], []
            for claimed, nlu in items:
                try:
                    outbox_ids.extend(await self.handle(claimed, nlu))
                except Exception as e:
                    if is_outage(e):
                        raise
                    log.exception("worker.handler_failed", inbox_id=claimed.inbox_id)
                    await self._failed(claimed, e)
                ok.append(claimed.inbox_id)
        return ok, outbox_ids

    async def handle(self, claimed: Claimed, nlu: Understanding) -> list[int]:
        """One event, one transaction; retried when another worker changed the same rows."""
        event = claimed.event
        structlog.contextvars.bind_contextvars(
            platform=event.address.channel, inbox_id=claimed.inbox_id, intent=nlu.intent.value
        )
        try:
            for attempt in range(6):
                try:
                    return await self._handle_once(claimed, nlu)
                except ConflictError:
                    log.info("worker.conflict_retry", attempt=attempt)
                    await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            return await self._handle_once(claimed, nlu)
        finally:
            structlog.contextvars.unbind_contextvars("platform", "inbox_id", "intent")

    async def _handle_many(
        self, items: list[tuple[Claimed, Understanding]]
    ) -> tuple[list[int], list[int]]:
        states: dict[str, DialogueChange] = {}
        async with UnitOfWork(self.factory) as uow:
            await uow.people.prefetch_identities(
                [(c.event.sender.platform, c.event.sender.external_id) for c, _ in items]
            )
            dialogue: Dialogue = self.redis_dialogue or uow.dialogue
            current: dict[str, dict[str, Any] | None] = {}
            rows: list[OutboxMessage] = []
            intents: dict[int, str] = {}
            for claimed, nlu in items:
                key = claimed.event.address.key
                if key not in current:
                    current[key] = await dialogue.get(key)
                produced, change, intent = await self._apply_event(uow, claimed, nlu, current[key])
                rows += produced
                intents[claimed.inbox_id] = intent
                if change.data is not None:
                    current[key] = change.data
                elif change.clear:
                    current[key] = None
                if change.data is not None or change.clear:
                    states[key] = change
            if self.redis_dialogue is None:
                for key, change in states.items():
                    await _apply(uow.dialogue, key, change, self.dialogue_ttl)
            await uow.flush()
            finished = await uow.inbox.finish_many(intents)
            if finished != len(intents):
                raise ConflictError("another worker finished part of the batch")
            ids = [r.id for r in rows]
            await uow.commit()
        metrics.count_outcomes(intents.values())
        if self.redis_dialogue is not None:
            for key, change in states.items():
                try:
                    await _apply(self.redis_dialogue, key, change, self.dialogue_ttl)
                except Exception as e:
                    log.warning("dialogue.save_failed", error=str(e))
        return list(intents), ids

    async def _apply_event(
        self,
        uow: UnitOfWork,
        claimed: Claimed,
        nlu: Understanding,
        state: dict[str, Any] | None,
    ) -> tuple[list[OutboxMessage], DialogueChange, str]:
        """Run one event's handler inside `uow`: its outbox rows, dialogue change and intent."""
        event = claimed.event
        person = await resolve_person(uow, event.sender, event.address)
        ctx = HandlerContext(
            uow=uow,
            person=person,
            address=event.address,
            now=utcnow(),
            text=nlu.text,
            inbox_id=claimed.inbox_id,
            counter=self.state.tally,
        )
        routed = await self.router.dispatch(event, nlu, ctx, state)
        # A click carries the channel's own id of the card clicked; the worker hands it back
        # untouched as the message to edit, and only the channel knows what it means.
        clicked = event.params.get("message_id") if isinstance(event, Action) else None
        rows = [
            add_reply(
                uow,
                event.address,
                replace(r, edit_id=clicked) if clicked and r.replaces else r,
                inbox_id=claimed.inbox_id,
            )
            for r in routed.replies
        ]
        rows += await add_outgoing(
            uow,
            ctx.outgoing,
            topics=self.topics,
            exclude=event.address,
            inbox_id=claimed.inbox_id,
        )
        return rows, routed.dialogue, routed.intent

    async def _handle_once(self, claimed: Claimed, nlu: Understanding) -> list[int]:
        key = claimed.event.address.key
        async with UnitOfWork(self.factory) as uow:
            dialogue: Dialogue = self.redis_dialogue or uow.dialogue
            rows, change, intent = await self._apply_event(
                uow, claimed, nlu, await dialogue.get(key)
            )
            if self.redis_dialogue is None:
                await _apply(uow.dialogue, key, change, self.dialogue_ttl)
            await uow.flush()
            if not await uow.inbox.finish(claimed.inbox_id, intent=intent):
                # Another worker finished this event first; our work rolls back unseen.
                log.info("worker.already_done", inbox_id=claimed.inbox_id)
                return []
            ids = [r.id for r in rows]
            await uow.commit()
        metrics.count_outcomes([intent])
        if self.redis_dialogue is not None:
            try:
                await _apply(self.redis_dialogue, key, change, self.dialogue_ttl)
            except Exception as e:
                log.warning("dialogue.save_failed", error=str(e))
        return ids

    async def _failed(self, claimed: Claimed, error: Exception) -> None:
        """A handler raised: retry later with back-off, or give up after the last attempt."""
        if claimed.deliveries >= self.max_deliveries:
            await self._dead_letter(claimed.inbox_id, claimed.event, repr(error))
            return
        async with UnitOfWork(self.factory) as uow:
            await uow.inbox.record_error(claimed.inbox_id, repr(error))
            await uow.commit()
        self._later(claimed.inbox_id, min(2**claimed.deliveries, 60) * random.uniform(0.5, 1.0))

    def _later(self, inbox_id: int, delay: float) -> None:
        task = asyncio.create_task(self._requeue(inbox_id, delay))
        self._retry_tasks.add(task)
        task.add_done_callback(self._retry_tasks.discard)

    async def _requeue(self, inbox_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.queue.put([inbox_id])
        except Exception as e:  # the recovery sweep will find the pending row
            log.warning("worker.requeue_failed", inbox_id=inbox_id, error=str(e))

    async def _dead_letter(self, inbox_id: int, event: Event | None, error: str) -> None:
        metrics.DEAD_LETTERS.labels("inbox").inc()
        log.error("inbox.dead_letter", inbox_id=inbox_id, error=error)
        async with UnitOfWork(self.factory) as uow:
            await uow.inbox.mark_dead(inbox_id, error)
            if event is not None:
                add_reply(uow, event.address, Reply(text=APOLOGY), inbox_id=inbox_id)
            await uow.commit()


def _entries(jobs: Sequence[Job], inbox_ids: Sequence[int]) -> list[Job]:
    """The queue entries naming any of `inbox_ids`."""
    wanted = set(inbox_ids)
    return [j for j in jobs if j.inbox_id in wanted]


async def _apply(dialogue: Dialogue, key: str, change: DialogueChange, ttl: int) -> None:
    if change.data is not None:
        await dialogue.set(key, change.data, ttl)
    elif change.clear:
        await dialogue.clear(key)
