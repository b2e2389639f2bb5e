"""The worker: claim events, understand them, run the handler and commit replies, then ack.

Each event is handled in one transaction that also writes its replies to the outbox and
marks the inbox row done; the queue entry is acknowledged only after that commit. A worker
killed at any point leaves either a pending row (claimed again) or a done row (skipped), so
nothing is lost and nothing is handled twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from bot import metrics
from bot.delivery import add_outgoing, add_reply
from bot.identity import resolve_person
from bot.router import DialogueChange, IntentRouter
from channels.base import ProfileSource
from channels.conversation import Action, Address, Event, Message, Reply, event_from_dict
from handlers.context import HandlerContext
from nlu.types import IntentName, Understander, Understanding
from store.db import SessionFactory
from store.errors import ConflictError
from store.models import OutboxMessage
from store.queue import Job, Queue
from store.state import Dialogue, SharedState
from store.types import utcnow
from store.uow import UNAVAILABLE, UnitOfWork

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

    async def recover(self) -> int:
        """Queue every pending inbox row again (the embedded queue starts empty)."""
        async with UnitOfWork(self.factory) as uow:
            ids = await uow.inbox.pending_ids(limit=100_000)
        if ids:
            await self.queue.put(ids)
            log.info("worker.recovered", count=len(ids))
        return len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("worker.started", consumer=self.consumer)
        while not stop.is_set():
            try:
                jobs = await self.queue.claim(self.consumer, count=self.batch, block_ms=1000)
            except Exception as e:
                log.warning("worker.claim_failed", error=str(e))
                await _sleep_or_stop(stop, 1.0)
                continue
            if jobs:
                try:
                    await self.process(jobs)
                except UNAVAILABLE as e:
                    log.warning("worker.store_unavailable", error=str(e))
                    await _sleep_or_stop(stop, 1.0)
        for t in list(self._retry_tasks):
            t.cancel()
        log.info("worker.stopped", consumer=self.consumer)

    async def process(self, jobs: Sequence[Job]) -> None:
        """Handle a batch of claimed jobs and acknowledge those that are finished."""
        claimed, finished = await self._claim_rows([j.inbox_id for j in jobs])
        by_id = {j.inbox_id: j for j in jobs}
        if finished:
            await self.queue.ack([by_id[i] for i in finished if i in by_id])
        if not claimed:
            return
        understood = self._understand([c.event for c in claimed])
        groups: dict[str, list[tuple[Claimed, Understanding]]] = defaultdict(list)
        for c, u in zip(claimed, understood, strict=True):
            groups[c.event.address.key].append((c, u))
        held = await self.state.try_lock_many(list(groups))
        try:
            batched = await self._batch([item for k in groups if k in held for item in groups[k]])
            # Conversations another worker holds, or a batch that failed, go one by one.
            alone = [items for k, items in groups.items() if k not in held or batched is None]
            results: list[tuple[list[int], list[int]] | BaseException] = []
            if batched is not None:
                results.append(batched)
            results += await asyncio.gather(
                *(
                    self._conversation(items, locked=items[0][0].event.address.key in held)
                    for items in alone
                ),
                return_exceptions=True,
            )
        finally:
            with contextlib.suppress(Exception):
                await self.state.unlock_many(held)
        done: list[Job] = []
        outbox_ids: list[int] = []
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, UNAVAILABLE):
                    raise result
                log.error("worker.group_failed", error=repr(result))
                continue
            ok_ids, out_ids = result
            outbox_ids.extend(out_ids)
            done.extend(by_id[i] for i in ok_ids if i in by_id)
        # Jobs neither done nor retried stay unacknowledged: the queue hands them out again.
        await self.queue.ack(done)
        if outbox_ids and self.dispatcher is not None:
            self.dispatcher.kick(outbox_ids)
        with contextlib.suppress(Exception):
            metrics.QUEUE_DEPTH.set(await self.queue.depth())

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

    def _understand(self, events: Sequence[Event]) -> list[Understanding]:
        texts = [self._text(e) for e in events]
        wanted = [i for i, t in enumerate(texts) if t]
        parsed: dict[int, Understanding] = {}
        if wanted:
            # Times such as "Saturday 22:00" are read in the understander's own timezone.
            with metrics.NLU_SECONDS.time():
                results = self.nlu.parse_many([texts[i] for i in wanted])
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

    async def _conversation(
        self, items: list[tuple[Claimed, Understanding]], *, locked: bool = False
    ) -> tuple[list[int], list[int]]:
        """Handle one conversation's events in order, under its lock."""
        ok: list[int] = []
        outbox_ids: list[int] = []
        key = items[0][0].event.address.key
        lock = contextlib.nullcontext() if locked else self.state.conversation_lock(key)
        async with self.concurrency, lock:
            for claimed, nlu in items:
                try:
                    outbox_ids.extend(await self.handle(claimed, nlu))
                    ok.append(claimed.inbox_id)
                except UNAVAILABLE:
                    raise
                except Exception as e:
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

    async def _batch(
        self, items: list[tuple[Claimed, Understanding]]
    ) -> tuple[list[int], list[int]] | None:
        """Handle many events in one transaction; None when that failed (then one by one).

        The caller holds every conversation's lock, so no other worker touches them. One
        commit, one prefetch of identities and one inbox update serve the whole batch; a
        handler error or a lost race anywhere rolls all of it back, and each event is then
        handled on its own, with its own retries.
        """
        if len(items) < 2:
            return None
        try:
            return await self._handle_many(items)
        except UNAVAILABLE:
            raise
        except Exception as e:
            log.info("worker.batch_fallback", size=len(items), error=repr(e))
            return None

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
        person = await resolve_person(
            uow, event.sender, event.address, profile=self.profiles.get(event.sender.platform)
        )
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
        delay = min(2**claimed.deliveries, 60) * random.uniform(0.5, 1.0)
        task = asyncio.create_task(self._requeue(claimed.inbox_id, delay))
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


async def _apply(dialogue: Dialogue, key: str, change: DialogueChange, ttl: int) -> None:
    if change.data is not None:
        await dialogue.set(key, change.data, ttl)
    elif change.clear:
        await dialogue.clear(key)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
