"""Waking the service-level watcher when a ticket is created or changes, in every process.

A committed transaction that created a ticket or changed a ticket's status or next
service-level instant (`sla_next_at`) kicks: the watchers of this process wake at once,
and with Redis the kick is also published on one channel that every worker's watcher
listens to, so the leader wakes whichever web or worker process made the change. The
transaction itself is the signal, so no handler, route or console has to remember to kick.

A kick carries nothing and may be lost (Redis away, a listener reconnecting): the watcher
still wakes at its next instant or after its longest sleep (10 s). Kicks published within
one event-loop turn are sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
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
_WATCHED = ("status", "sla_next_at")


class Kicks:
    """The process's kick: local watchers' events plus, with Redis, a published message."""

    def __init__(self) -> None:
        self._events: set[asyncio.Event] = set()
        self._redis: Redis | None = None
        self._channel = CHANNEL
        self._sending: asyncio.Task[None] | None = None
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

    def watch(self, wake: asyncio.Event) -> None:
        """Set `wake` on every kick, from this process or another, until `unwatch`."""
        self._events.add(wake)

    def unwatch(self, wake: asyncio.Event) -> None:
        """Stop setting `wake` on kicks."""
        self._events.discard(wake)

    def kick(self) -> None:
        """Wake this process's watchers now and the others through Redis."""
        for wake in list(self._events):
            wake.set()
        if self._redis is None or (self._sending is not None and not self._sending.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._sending = loop.create_task(self._publish(self._redis), name="sla-kick")

    async def _publish(self, redis: Redis) -> None:
        try:
            await redis.publish(self._channel, "1")
            self.sent += 1
        except Exception as e:
            log.debug("sla_kick.publish_failed", error=type(e).__name__)

    async def listen(self, redis: Redis, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Set `wake` on every kick published by any process, until `stop`; rides out outages."""
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
                            wake.set()
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            except Exception as e:
                log.info("sla_kick.listen_failed", error=type(e).__name__, retry_in=pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                pause = min(pause * 2, 10.0)


KICKS = Kicks()


def _touched(session: Session, _context: Any) -> None:
    # After a flush `new` and `dirty` still describe what was flushed.
    for obj in session.new:
        if isinstance(obj, Ticket):
            session.info[_FLAG] = True
            return
    for obj in session.dirty:
        if isinstance(obj, Ticket) and any(
            attributes.get_history(obj, name).has_changes() for name in _WATCHED
        ):
            session.info[_FLAG] = True
            return


def _committed(session: Session) -> None:
    # Tickets written as Core INSERTs on the hot path never pass through a flush's `new`.
    inserted = any(isinstance(obj, Ticket) for obj in session.info.get(INSERTED, ()))
    if session.info.pop(_FLAG, False) or inserted:
        KICKS.kick()


def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


def install() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    if not event.contains(Session, "after_flush", _touched):
        event.listen(Session, "after_flush", _touched)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)


install()
