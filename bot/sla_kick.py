"""Waking the service-level watcher when a ticket's clock is set or moved, in every process.

A committed transaction that wrote a ticket's next service-level instant (`sla_next_at`),
on a new ticket or an old one, kicks: the watchers of this process wake at once,
and with Redis the kick is also published on one channel that every worker's watcher
listens to, so the leader wakes whichever web or worker process made the change. The
transaction itself is the signal, so no handler, route or console has to remember to kick.

The watcher acts on `sla_next_at` alone (a clock stopped or a ticket without one gives it
nothing to do), and a kick carries the earliest instant the transaction wrote: a watcher
already planning to wake by then sleeps on. A stream of new tickets without a clock, or
whose first instant is minutes away, costs the watcher nothing; one with a short target
still wakes it at once. A kick may be lost (Redis away, a listener reconnecting): the
watcher still wakes at its next instant or after its longest sleep (10 s). Kicks made while
one is being published go out once, after it, carrying the earliest of them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.orm import Session, attributes

from store.hotpath import INSERTED
from store.models import Ticket

log = structlog.get_logger(__name__)

CHANNEL = "sla:kick"
"""The pub/sub channel (after the deployment's Redis prefix)."""

_FLAG = "sla_kick"


Planned = Callable[[], datetime | None]
"""When a watcher next wakes of its own accord; None while it has no plan (every kick wakes it)."""


class _Unset:
    """No kick yet: nothing this transaction wrote concerns the watcher."""


UNSET = _Unset()
Instant = datetime | None | _Unset
"""What a kick carries: the earliest instant written, None (wake regardless), or nothing."""


def earliest(a: Instant, b: Instant) -> Instant:
    """The kick that says both `a` and `b`: the earlier instant; None if either is None."""
    if isinstance(a, _Unset):
        return b
    if isinstance(b, _Unset):
        return a
    if a is None or b is None:
        return None
    return min(a, b)


def _unplanned() -> datetime | None:
    return None


class Kicks:
    """The process's kick: local watchers' events plus, with Redis, a published message."""

    def __init__(self) -> None:
        self._events: dict[asyncio.Event, Planned] = {}
        self._redis: Redis | None = None
        self._channel = CHANNEL
        self._sending: asyncio.Task[None] | None = None
        self._pending: Instant = UNSET
        self.sent = 0

    def bind(self, redis: Redis | None, prefix: str = "") -> None:
        """Publish kicks through this Redis client (None: this process only)."""
        self._redis = redis
        self._channel = f"{prefix}{CHANNEL}"

    def release(self, redis: Redis | None) -> None:
        """Stop publishing through `redis` (its owner is closing it)."""
        if redis is not None and self._redis is redis:
            self._redis = None

    @property
    def channel(self) -> str:
        """The pub/sub channel kicks go on, with the deployment's Redis prefix."""
        return self._channel

    def watch(self, wake: asyncio.Event, planned: Planned = _unplanned) -> None:
        """Set `wake` on kicks, from this process or another, until `unwatch`.

        `planned` tells when the watcher wakes anyway: a kick whose instant is no earlier
        leaves it asleep.
        """
        self._events[wake] = planned

    def unwatch(self, wake: asyncio.Event) -> None:
        """Stop setting `wake` on kicks."""
        self._events.pop(wake, None)

    def kick(self, at: datetime | None = None) -> None:
        """Wake this process's watchers now and the others through Redis.

        `at`: the earliest service-level instant the change wrote (None: wake regardless).
        """
        for wake, planned in list(self._events.items()):
            wakes(wake, planned, at)
        if self._redis is None:
            return
        if self._sending is not None and not self._sending.done():
            self._pending = earliest(self._pending, at)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sending = loop.create_task(self._publish(self._redis, at), name="sla-kick")

    async def _publish(self, redis: Redis, at: datetime | None) -> None:
        while True:
            try:
                await redis.publish(self._channel, encode(at))
                self.sent += 1
            except Exception as e:
                log.debug("sla_kick.publish_failed", error=type(e).__name__)
            pending, self._pending = self._pending, UNSET
            if isinstance(pending, _Unset):
                return
            at = pending

    async def listen(
        self, redis: Redis, wake: asyncio.Event, stop: asyncio.Event, planned: Planned = _unplanned
    ) -> None:
        """Set `wake` on kicks published by any process, until `stop`; rides out outages.

        `planned` as for `watch`.
        """
        pause = 0.5
        while not stop.is_set():
            try:
                pubsub = redis.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self._channel)
                    pause = 0.5
                    while not stop.is_set():
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            wakes(wake, planned, decode(message.get("data")))
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            except Exception as e:
                log.info("sla_kick.listen_failed", error=type(e).__name__, retry_in=pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                pause = min(pause * 2, 10.0)


def wakes(wake: asyncio.Event, planned: Planned, at: datetime | None) -> None:
    """Set `wake` unless its watcher wakes by `at` anyway."""
    plan = planned()
    if at is None or plan is None or at < plan:
        wake.set()


def encode(at: datetime | None) -> str:
    """A kick as published: the instant in ISO 8601, or "1" to wake regardless."""
    return "1" if at is None else at.isoformat()


def decode(data: Any) -> datetime | None:
    """A published kick's instant; None (wake regardless) for anything else, such as "1"."""
    try:
        at = datetime.fromisoformat(data.decode() if isinstance(data, bytes) else str(data))
    except ValueError:  # UnicodeDecodeError is one
        return None
    return at if at.tzinfo is not None else None


KICKS = Kicks()


def _instant(ticket: Ticket) -> Instant:
    # The watcher acts on `sla_next_at` alone: a ticket without one, or whose clock stopped,
    # gives it nothing to wake for (at its planned instant it finds nothing due).
    at = ticket.__dict__.get("sla_next_at")
    if not isinstance(at, datetime):
        return UNSET
    return at if at.tzinfo is not None else None


def _touched(session: Session, _context: Any) -> None:
    # After a flush `new` and `dirty` still describe what was flushed.
    kick: Instant = session.info.get(_FLAG, UNSET)
    for obj in session.new:
        if isinstance(obj, Ticket):
            kick = earliest(kick, _instant(obj))
    for obj in session.dirty:
        if isinstance(obj, Ticket) and attributes.get_history(obj, "sla_next_at").has_changes():
            kick = earliest(kick, _instant(obj))
    if not isinstance(kick, _Unset):
        session.info[_FLAG] = kick


def _committed(session: Session) -> None:
    kick: Instant = session.info.pop(_FLAG, UNSET)
    # Tickets written as Core INSERTs on the hot path never pass through a flush's `new`.
    for obj in session.info.get(INSERTED, ()):
        if isinstance(obj, Ticket):
            kick = earliest(kick, _instant(obj))
    if not isinstance(kick, _Unset):
        KICKS.kick(kick)


def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


def install() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    if not event.contains(Session, "after_flush", _touched):
        event.listen(Session, "after_flush", _touched)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)


install()
