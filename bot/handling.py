"""Handling claimed, understood events: each conversation in order, under its lock.

Conversations whose locks are free go together in one transaction (one commit, one
identity prefetch, one inbox update); should that fail, or for conversations another worker
holds, each conversation goes on its own. Every event's replies are written to the outbox
in the transaction that marks its inbox row done. No outbound call happens here: profile
look-ups were made before, and the dispatcher sends what was committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import structlog

from bot import metrics
from bot.delivery import add_outgoing, add_reply
from bot.identity import resolve_person
from bot.priority import GiveWay, no_wait
from bot.redelivery import Claimed, Redelivery
from bot.router import DialogueChange, IntentRouter
from channels.conversation import Action, Address, Alert, Message
from channels.meta.comments import public_place
from channels.x.parse import tweet_id
from handlers.context import HandlerContext
from handlers.events import count_repeats
from handlers.social import flag_if_negative
from nlu.types import Understanding
from store.config_memo import CarriedConfig
from store.db import SessionFactory
from store.enums import OutboxStatus
from store.errors import ConflictError
from store.models import OutboxMessage
from store.outage import is_outage
from store.state import Dialogue, LockTimeout, ManyDialogue, SharedState
from store.types import utcnow
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

Understood = tuple[Claimed, Understanding]
Written = tuple[int, str]
"""An outbox row a transaction wrote: its id and platform (the dispatcher wakes only those)."""

# On SQLite every write waits for the one writer connection, acks included: a worker
# transaction over a whole batch would hold the web routes for its whole length. While
# webhooks are coming in, a transaction takes as many events as fit in a short hold of the
# writer (`SQLITE_HOLD_WHILE_ACKING`, judged by how long the last runs took an event), at
# least two; while none is, sixteen share a transaction's fixed cost (the identity and
# dialogue look-ups, the inbox update, the queued rows, the flush and the commit: some
# 2.5 ms, more than two events' own work), holding the writer some 20-30 ms, within an
# ack's budget for the first webhook that arrives meanwhile.
SQLITE_EVENTS_PER_TRANSACTION = 16
SQLITE_EVENTS_WHILE_ACKING = 2
SQLITE_HOLD_WHILE_ACKING = 0.010
# How much the latest run moves the estimate of an event's time in a run.
_RUN_TIME_WEIGHT = 0.3

# How long a batch keeps asking for the conversations another worker holds, to handle them
# in runs, before each goes on its own path and waits for its lock.
LOCK_PATIENCE_SECONDS = 1.0
LOCK_RETRY_SECONDS = 0.02

_CARRY: ContextVar[CarriedConfig | None] = ContextVar("switchboard_carried_config", default=None)
"""The configuration the runs of the batch being handled hand on to each other."""


class EventHandling:
    """Runs the router's handlers for claimed events and commits what they produce."""

    def __init__(
        self,
        *,
        factory: SessionFactory,
        state: SharedState,
        router: IntentRouter,
        topics: Callable[[str], Sequence[Address]],
        redelivery: Redelivery,
        dialogue: Dialogue | None = None,
        concurrency: int = 16,
        dialogue_ttl: int = 900,
        mail: bool = False,
        per_transaction: int | None = None,
        give_way: GiveWay = no_wait,
    ) -> None:
        self.factory = factory
        self.give_way = give_way
        self.mail = mail
        self.state = state
        self.router = router
        self.topics = topics
        self.redelivery = redelivery
        self.redis_dialogue = dialogue
        self.concurrency = asyncio.Semaphore(concurrency)
        self.dialogue_ttl = dialogue_ttl
        self.per_transaction = per_transaction or _events_per_transaction(factory)
        # Seconds a run's transaction took per event lately (fixed cost shared in): what
        # sizes the runs while webhooks are coming in.
        self.event_seconds: float | None = None

    async def groups(
        self, groups: Mapping[str, list[Understood]]
    ) -> tuple[list[int], list[Written]]:
        """Handle every conversation's events; the inbox ids done and the outbox rows written.

        Conversations whose locks are free right now go together in transactions of up to
        `per_transaction` events (one commit, one identity prefetch, one inbox update each;
        a longer conversation in consecutive runs, in order), with a turn for the web routes
        between them. Should one fail, or for the conversations another worker holds, each
        conversation goes on its own, in order, under its lock: the one path every event can
        fall back to. The runs hand the configuration they read on to the next
        (`store.config_memo.CarriedConfig`): on SQLite under load a run is a few events.
        """
        held = await self.state.try_lock_many(list(groups))
        counted: list[int] = []
        carrying = _CARRY.set(CarriedConfig())
        try:
            groups, counted = await self._alert_repeats(groups, held)
            alone = {key: list(items) for key, items in groups.items()}
            # A conversation whose run failed or went alone keeps its later events out of
            # the runs too: they must follow it, in order, on the path that handles it.
            behind: set[str] = set()
            results: list[tuple[list[int], list[Written]] | BaseException] = []
            taken = set(held)
            patience: float | None = None
            while True:
                if taken:
                    await self._runs(taken, alone, behind, results)
                # Conversations another worker held when this batch began. Its batch is
                # likely to commit soon, and those it lets go join runs too rather than
                # going one event a transaction, each waiting for its lock: with batches
                # larger than the conversations in flight, most of a batch would.
                waiting = [key for key in alone if key not in held and key not in behind]
                if not waiting:
                    break
                taken = await self.state.try_lock_many(waiting)
                held.update(taken)
                if not taken:
                    now = asyncio.get_running_loop().time()
                    patience = now + LOCK_PATIENCE_SECONDS if patience is None else patience
                    if now >= patience:
                        break
                    await asyncio.sleep(LOCK_RETRY_SECONDS)
            results += await asyncio.gather(
                *(self._conversation(items, locked=key in held) for key, items in alone.items()),
                return_exceptions=True,
            )
        finally:
            _CARRY.reset(carrying)
            with contextlib.suppress(Exception):
                await self.state.unlock_many(held)
        ok: list[int] = list(counted)
        outbox_ids: list[Written] = []
        for result in results:
            if isinstance(result, BaseException):
                if is_outage(result) or not isinstance(result, Exception):
                    raise result
                log.error("worker.group_failed", error=repr(result))
                continue
            ok.extend(result[0])
            outbox_ids.extend(result[1])
        return ok, outbox_ids

    async def _runs(
        self,
        keys: set[str],
        alone: dict[str, list[Understood]],
        behind: set[str],
        results: list[tuple[list[int], list[Written]] | BaseException],
    ) -> None:
        """Handle the events of these locked conversations in runs of several a transaction.

        What a run handled leaves `alone`; a conversation whose run failed, or that would
        run one event alone, joins `behind` and stays in `alone` for its own path.
        """
        pending = deque((k, list(alone[k])) for k in alone if k in keys)
        loop = asyncio.get_running_loop()
        while pending:
            short = await self.give_way()
            run = _next_run(pending, self._run_size(short=short))
            run = [(key, items) for key, items in run if key not in behind]
            together = [item for _, items in run for item in items]
            if len(together) < 2:
                behind.update(key for key, _ in run)
                continue  # one event: its own path, with retries on a lost race
            started = loop.time()
            try:
                results.append(await self._many(together))
                self._took(len(together), loop.time() - started)
            except Exception as e:
                if is_outage(e):
                    raise
                log.info("worker.batch_fallback", size=len(together), error=repr(e))
                behind.update(key for key, _ in run)
                continue
            for key, items in run:
                del alone[key][: len(items)]
                if not alone[key]:
                    del alone[key]
            await _let_others_write()

    def _run_size(self, *, short: bool) -> int | None:
        """Events in the next transaction: fewer while webhooks are coming in on SQLite.

        As many as the recent runs say fit in `SQLITE_HOLD_WHILE_ACKING`, at least
        `SQLITE_EVENTS_WHILE_ACKING`: the time per event counts the transaction's fixed
        cost shared among the run's events, so the size settles where the whole run fits.
        """
        if self.per_transaction is None or not short:
            return self.per_transaction
        fit = SQLITE_EVENTS_WHILE_ACKING
        if self.event_seconds:
            fit = int(SQLITE_HOLD_WHILE_ACKING / self.event_seconds)
        return max(SQLITE_EVENTS_WHILE_ACKING, min(self.per_transaction, fit))

    def _took(self, events: int, seconds: float) -> None:
        """Note that a run of `events` took `seconds`, for sizing the next ones."""
        per = seconds / events
        last = self.event_seconds
        self.event_seconds = per if last is None else last + _RUN_TIME_WEIGHT * (per - last)

    async def _alert_repeats(
        self, groups: Mapping[str, list[Understood]], held: set[str]
    ) -> tuple[dict[str, list[Understood]], list[int]]:
        """Count the alerts that only repeat an open incident, in one transaction.

        An alert storm is mostly these. The events left to handle, and the inbox ids counted.
        A conversation counted whole is let go at once (and leaves `held`), so another worker
        waits on it only as long as one statement took, not for the rest of this batch.
        """
        alerts = [
            (c.inbox_id, c.event)
            for key, items in groups.items()
            if key in held
            for c, _ in items
            if isinstance(c.event, Alert)
        ]
        if not alerts:
            return dict(groups), []
        try:
            async with UnitOfWork(self.factory) as uow:
                ids = await count_repeats(uow, alerts, now=utcnow())
                if not ids:
                    return dict(groups), []
                if await uow.inbox.finish_many(dict.fromkeys(ids, "alert")) != len(ids):
                    raise ConflictError("another worker finished some of the alerts")
                await uow.commit()
        except Exception as e:
            if is_outage(e):
                raise
            log.info("worker.alert_repeats_fallback", size=len(alerts), error=repr(e))
            return dict(groups), []
        metrics.count_outcomes(["alert"] * len(ids))
        done = set(ids)
        left = {k: [u for u in items if u[0].inbox_id not in done] for k, items in groups.items()}
        finished = [k for k, items in left.items() if not items and k in held]
        held.difference_update(finished)
        with contextlib.suppress(Exception):
            await self.state.unlock_many(finished)
        return {k: items for k, items in left.items() if items}, ids

    async def _conversation(
        self, items: list[Understood], *, locked: bool = False
    ) -> tuple[list[int], list[Written]]:
        """Handle one conversation's events in order, under its lock."""
        ok: list[int] = []
        outbox_ids: list[Written] = []
        async with self.concurrency, contextlib.AsyncExitStack() as held:
            if not locked:
                key = items[0][0].event.address.key
                try:
                    await held.enter_async_context(self.state.conversation_lock(key))
                except LockTimeout:
                    # Another worker holds the conversation for long: try these events later.
                    log.info("worker.conversation_busy", count=len(items))
                    for claimed, _ in items:
                        self.redelivery.later(claimed.inbox_id, 1.0)
                    return [c.inbox_id for c, _ in items], []
            for claimed, nlu in items:
                try:
                    outbox_ids.extend(await self.one(claimed, nlu))
                except Exception as e:
                    if is_outage(e):
                        raise
                    log.exception("worker.handler_failed", inbox_id=claimed.inbox_id)
                    await self.redelivery.failed(claimed, e)
                ok.append(claimed.inbox_id)
        return ok, outbox_ids

    async def one(self, claimed: Claimed, nlu: Understanding) -> list[Written]:
        """One event, one transaction; retried when another worker changed the same rows."""
        event = claimed.event
        structlog.contextvars.bind_contextvars(
            platform=event.address.channel, inbox_id=claimed.inbox_id, intent=nlu.intent.value
        )
        try:
            for attempt in range(6):
                try:
                    return await self._once(claimed, nlu)
                except ConflictError:
                    log.info("worker.conflict_retry", attempt=attempt)
                    await asyncio.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
            return await self._once(claimed, nlu)
        finally:
            structlog.contextvars.unbind_contextvars("platform", "inbox_id", "intent")

    async def _many(self, items: list[Understood]) -> tuple[list[int], list[Written]]:
        states: dict[str, DialogueChange] = {}
        async with UnitOfWork(self.factory, carry=_CARRY.get()) as uow:
            await uow.people.prefetch_identities(
                [(c.event.sender.platform, c.event.sender.external_id) for c, _ in items]
            )
            dialogue: Dialogue = self.redis_dialogue or uow.dialogue
            keys = list(dict.fromkeys(c.event.address.key for c, _ in items))
            current: dict[str, dict[str, Any] | None] = {}
            if self.redis_dialogue is None:
                await uow.dialogue.prefetch(keys)
            elif isinstance(self.redis_dialogue, ManyDialogue):
                # One round trip for the run's conversations, not one each.
                current.update(await self.redis_dialogue.get_many(keys))
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
            ids = _to_send(rows)
            await uow.commit()
        _count_delivered(rows)
        metrics.count_outcomes(intents.values())
        if self.redis_dialogue is not None and states:
            try:
                await _save_many(self.redis_dialogue, states, self.dialogue_ttl)
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
            mail=self.mail,
        )
        routed = await self.router.dispatch(event, nlu, ctx, state)
        replies = routed.replies
        if isinstance(event, Message):
            where = "X" if tweet_id(event) is not None else public_place(event)
            if where is not None:
                refs = [r.ticket_ref for r in replies if r.ticket_ref]
                await flag_if_negative(ctx, event.text, refs, where=where)
        if isinstance(event, Action):
            replies = [event.answer(r) for r in replies]
        rows = [add_reply(uow, event.address, r, inbox_id=claimed.inbox_id) for r in replies]
        rows += await add_outgoing(
            uow,
            ctx.outgoing,
            topics=self.topics,
            exclude=event.address,
            inbox_id=claimed.inbox_id,
            whatsapp_template=ctx.whatsapp_template,
        )
        return rows, routed.dialogue, routed.intent

    async def _once(self, claimed: Claimed, nlu: Understanding) -> list[Written]:
        key = claimed.event.address.key
        await self.give_way()
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
            ids = _to_send(rows)
            await uow.commit()
        _count_delivered(rows)
        metrics.count_outcomes([intent])
        if self.redis_dialogue is not None:
            try:
                await _apply(self.redis_dialogue, key, change, self.dialogue_ttl)
            except Exception as e:
                log.warning("dialogue.save_failed", error=str(e))
        return ids


async def _apply(dialogue: Dialogue, key: str, change: DialogueChange, ttl: int) -> None:
    if change.data is not None:
        await dialogue.set(key, change.data, ttl)
    elif change.clear:
        await dialogue.clear(key)


def _to_send(rows: Sequence[OutboxMessage]) -> list[Written]:
    """The rows a dispatcher must send: a page's replies were delivered by the commit."""
    return [(r.id, r.platform) for r in rows if r.status is OutboxStatus.PENDING]


def _count_delivered(rows: Sequence[OutboxMessage]) -> None:
    for r in rows:
        if r.status is OutboxStatus.SENT and r.id is not None:
            metrics.OUTBOX_SENDS.labels(r.platform, "sent").inc()


async def _save_many(dialogue: Dialogue, states: Mapping[str, DialogueChange], ttl: int) -> None:
    if isinstance(dialogue, ManyDialogue):
        await dialogue.save_many({key: change.data for key, change in states.items()}, ttl)
        return
    for key, change in states.items():
        await _apply(dialogue, key, change, ttl)


def _events_per_transaction(factory: SessionFactory) -> int | None:
    """How many events one worker transaction may take: bounded on SQLite, else not."""
    bind = factory.kw.get("bind")
    dialect = getattr(getattr(bind, "dialect", None), "name", "")
    return SQLITE_EVENTS_PER_TRANSACTION if dialect == "sqlite" else None


def _next_run(
    pending: deque[tuple[str, list[Understood]]], size: int | None
) -> list[tuple[str, list[Understood]]]:
    """Take the next run of at most `size` events off `pending`, each conversation's in order.

    A conversation that fits a run is not cut; a longer one starts its own and goes on in
    the runs after it: on SQLite every write, acks included, waits for the one writer, so
    one busy conversation (a help channel, a storm of alerts from one source) must not hold
    it for a whole batch.
    """
    run: list[tuple[str, list[Understood]]] = []
    room = size
    while pending:
        key, items = pending[0]
        if room is None:
            run.append(pending.popleft())
            continue
        if run and len(items) > room:
            break
        taken = items[:room]
        run.append((key, taken))
        room -= len(taken)
        if len(taken) < len(items):
            pending[0] = (key, items[len(taken) :])
            break
        pending.popleft()
        if room == 0:
            break
    return run


async def _let_others_write() -> None:
    # A connection handed back wakes the request waiting for it; two turns of the loop let
    # that request take it before this worker asks for it again.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
