"""The ack path's one call: store the event durably (deduplicated), queue it, return.

Concurrent webhook requests are written in small group commits: each request waits for the
transaction holding its row, so a 200 still means "durable", while one commit serves every
request that arrived during the previous one. A row the database refuses (a NUL byte in
JSON on PostgreSQL) fails only its own request: the group is then written row by row, and
the refused request gets `PayloadError` (400) while the others commit. An outage of the
database fails the requests with `UnavailableError` (503, so the platform retries).

Redis is only a fast path here (dedup keys, the queue hint): each call gets a short time
limit, and when Redis is away the event is still stored and acknowledged; the worker's
recovery sweep queues pending rows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import metrics
from bot.resilience import Outage, describe
from channels.base import IngestOutcome, PayloadError
from channels.conversation import Event
from store.db import SessionFactory
from store.errors import UnavailableError
from store.inbox import insert_events
from store.outage import is_outage
from store.queue import Queue
from store.state import SharedState

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Seconds a Redis fast path may take on the ack path before it is skipped.
FAST_PATH_SECONDS = 0.5


@dataclass
class _Pending:
    event: Event
    payload: dict[str, Any]
    done: asyncio.Future[int | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Ingress:
    """`await ingress(event)` returns once the event is in the inbox (or known already)."""

    def __init__(
        self,
        factory: SessionFactory,
        queue: Queue,
        state: SharedState,
        *,
        max_batch: int = 200,
    ) -> None:
        self.factory = factory
        # The group commit is one Core statement: no session, no unit of work around it.
        self._engine: AsyncEngine = factory.kw["bind"]
        self.queue = queue
        self.state = state
        self.max_batch = max_batch
        self._pending: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._redis = Outage("ingress.fast_path", base=0.5, cap=5.0)
        self._redis_retry_at = 0.0

    async def start(self) -> None:
        """Start the group-commit writer; without it each event is written on its own."""
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="inbox-writer")

    async def aclose(self) -> None:
        """Stop the group-commit writer."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None

    async def __call__(self, event: Event, payload: dict[str, Any] | None = None) -> IngestOutcome:
        """Store the event durably; whether it is new or a repeat of one stored already.

        `payload` is the event's JSON form when the caller has built it already.
        """
        platform = event.address.channel
        if payload is None:
            payload = event.to_dict()
        try:
            if self._writer is None:
                inbox_id = (await self._insert([(event, payload)]))[0]
            else:
                item = _Pending(event, payload)
                self._pending.put_nowait(item)
                inbox_id = await item.done
        except Exception as e:
            raise _refusal(event, e) from e
        if inbox_id is None:
            metrics.INBOX_EVENTS.labels(platform, "duplicate").inc()
            log.info("inbox.duplicate", platform=platform, event_id=event.event_id)
            return IngestOutcome.DUPLICATE
        metrics.INBOX_EVENTS.labels(platform, "accepted").inc()
        log.info("inbox.accepted", platform=platform, event_id=event.event_id, inbox_id=inbox_id)
        return IngestOutcome.ACCEPTED

    async def _write_loop(self) -> None:
        while True:
            first = await self._pending.get()
            batch = [first]
            while len(batch) < self.max_batch and not self._pending.empty():
                batch.append(self._pending.get_nowait())
            try:
                ids = await self._insert([(p.event, p.payload) for p in batch])
            except Exception as e:
                if len(batch) == 1 or is_outage(e):
                    _settle(batch, e)
                    continue
                # One row may have spoiled the group: each request on its own, once.
                for p in batch:
                    try:
                        _settle([p], (await self._insert([(p.event, p.payload)]))[0])
                    except Exception as alone:
                        _settle([p], alone)
                continue
            for p, i in zip(batch, ids, strict=True):
                _settle([p], i)

    async def _insert(self, events: list[tuple[Event, dict[str, Any]]]) -> list[int | None]:
        """Store a batch of events with their JSON forms.

        Known repeats are skipped by the fast path, the rest by the unique key.
        """
        keys = [f"{e.address.channel}:{e.event_id}" for e, _ in events]
        # A fast path only: the database's unique key decides.
        _, seen = await self._fast(lambda: self.state.seen_many(keys), FAST_PATH_SECONDS)
        known = seen or [False] * len(keys)
        fresh = [i for i, k in enumerate(known) if not k]
        ids: list[int | None] = [None] * len(events)
        if fresh:
            rows = [
                {
                    "platform": event.address.channel,
                    "event_id": event.event_id,
                    "payload": payload,
                    "conversation_key": event.address.key,
                }
                for event, payload in (events[i] for i in fresh)
            ]
            async with self._engine.begin() as conn:
                stored = await insert_events(conn, rows)
            for i, inbox_id in zip(fresh, stored, strict=True):
                ids[i] = inbox_id
        new = [i for i in ids if i is not None]
        if new:
            # Stored is what counts: were the queue away, the recovery sweep queues pending
            # rows again.
            queued, _ = await self._fast(lambda: self.queue.put(new), FAST_PATH_SECONDS * 2)
            if queued:
                remembered = [k for k, i in zip(keys, ids, strict=True) if i]
                await self._fast(lambda: self.state.remember_many(remembered), FAST_PATH_SECONDS)
        return ids

    async def _fast(
        self, call: Callable[[], Awaitable[T]], seconds: float
    ) -> tuple[bool, T | None]:
        """Run one Redis call of the fast path: (done, its result).

        It gets `seconds` at most. After a failure Redis is left alone for a back-off
        interval, so the ack does not wait on a server that is away, and the outage is
        logged once, not once per request.
        """
        if time.monotonic() < self._redis_retry_at:
            return False, None
        try:
            # A timeout scope, not `wait_for`, which runs the call in a task of its own.
            async with asyncio.timeout(seconds):
                result = await call()
        except Exception as e:
            self._redis_retry_at = time.monotonic() + self._redis.failed(e)
            return False, None
        self._redis.recovered()
        return True, result


def _settle(batch: list[_Pending], outcome: int | None | BaseException) -> None:
    for p in batch:
        if p.done.done():
            continue
        if isinstance(outcome, BaseException):
            p.done.set_exception(outcome)
        else:
            p.done.set_result(outcome)


def _refusal(event: Event, error: Exception) -> Exception:
    """What the web layer answers for an event that could not be stored: 503 or 400."""
    if isinstance(error, PayloadError | UnavailableError):
        return error
    platform = event.address.channel
    if is_outage(error):
        return UnavailableError(f"the inbox cannot be written: {type(error).__name__}")
    log.warning("inbox.refused", platform=platform, event_id=event.event_id, error=describe(error))
    return PayloadError("the event could not be stored", platform=platform)
