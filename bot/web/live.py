"""News of changed tickets for the console's live pages, from whichever process changed them.

A committed transaction that created or changed a ticket, or added an event to one, is the
news: no route or handler has to remember to announce it. The committing process hands it
to its own listeners at once; with Redis it also publishes it on one pub/sub channel that
every web process listens to, so a page served by one web process hears of a change made by
a worker or by another web process. Without Redis (the embedded default) everything runs in
one process and the in-process hand-over is all there is.

News may be lost (Redis away, a listener reconnecting); a live page reads the ticket's
version once when it connects, and the browser reconnects after each stream ends, so a lost
message delays a banner, it never leaves a wrong page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from store.hotpath import INSERTED
from store.models import Ticket, TicketEvent

log = structlog.get_logger(__name__)

CHANNEL = "console:tickets"
"""The pub/sub channel (after the deployment's Redis prefix)."""

_FLAG = "console_news"
QUEUE_SIZE = 64


@dataclass(frozen=True, slots=True)
class Change:
    """A ticket that changed: its id and, when the change moved it, version and status."""

    ticket_id: int
    version: int | None = None
    status: str | None = None

    def to_json(self) -> list[Any]:
        """The change as the short JSON array published to other processes."""
        return [self.ticket_id, self.version, self.status]

    @classmethod
    def from_json(cls, row: Any) -> Change | None:
        """The change a published array names; None when the array is malformed."""
        if not isinstance(row, list) or len(row) != 3 or not isinstance(row[0], int):
            return None
        version = row[1] if isinstance(row[1], int) else None
        status = row[2] if isinstance(row[2], str) else None
        return cls(row[0], version, status)


class TicketNews:
    """The process's ticket news: local subscribers, plus Redis pub/sub when bound."""

    def __init__(self) -> None:
        self._subscribers: dict[int, set[asyncio.Queue[Change]]] = {}
        self._redis: Redis | None = None
        self._channel = CHANNEL
        self._origin = uuid.uuid4().hex
        self._listener: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.published = 0
        self.received = 0

    def bind(self, redis: Redis | None, prefix: str = "") -> None:
        """Publish and listen through this Redis client (None: this process only)."""
        self._stop_listening()
        self._redis = redis
        self._channel = f"{prefix}{CHANNEL}"
        if redis is not None and self._subscribers:
            self._start_listening()

    def release(self, redis: Redis | None) -> None:
        """Stop using `redis` (its owner is closing it)."""
        if redis is not None and self._redis is redis:
            self._stop_listening()
            self._redis = None

    @property
    def channel(self) -> str:
        """The pub/sub channel news goes on, with the deployment's Redis prefix."""
        return self._channel

    @contextlib.contextmanager
    def subscribe(self, ticket_id: int) -> Iterator[asyncio.Queue[Change]]:
        """A queue receiving every change of the ticket while the block runs."""
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers.setdefault(ticket_id, set()).add(queue)
        if self._redis is not None and (self._listener is None or self._listener.done()):
            self._start_listening()
        try:
            yield queue
        finally:
            held = self._subscribers.get(ticket_id)
            if held is not None:
                held.discard(queue)
                if not held:
                    del self._subscribers[ticket_id]

    def announce(self, changes: list[Change]) -> None:
        """Tell this process's subscribers now and, with Redis, every other process."""
        self._deliver(changes)
        redis = self._redis
        if redis is None or not changes:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        body = json.dumps({"o": self._origin, "t": [c.to_json() for c in changes]})
        task = loop.create_task(self._publish(redis, body), name="console-news")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def _deliver(self, changes: list[Change]) -> None:
        for change in changes:
            for queue in list(self._subscribers.get(change.ticket_id, ())):
                # A page that stopped reading needs one banner, not a backlog.
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(change)

    async def _publish(self, redis: Redis, body: str) -> None:
        try:
            await redis.publish(self._channel, body)
            self.published += 1
        except Exception as e:
            log.debug("console_news.publish_failed", error=type(e).__name__)

    def _start_listening(self) -> None:
        redis = self._redis
        if redis is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._listener = loop.create_task(self._listen(redis), name="console-news-listen")

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            self._listener = None

    def received_body(self, raw: bytes | str) -> None:
        """Hand a published message to local subscribers, unless this process sent it."""
        try:
            body = json.loads(raw)
        except ValueError:
            return
        if not isinstance(body, dict) or body.get("o") == self._origin:
            return
        rows = body.get("t")
        if not isinstance(rows, list):
            return
        changes = [c for c in (Change.from_json(r) for r in rows) if c is not None]
        self.received += 1
        self._deliver(changes)

    async def _listen(self, redis: Redis) -> None:
        pause = 0.5
        while True:
            try:
                pubsub = redis.pubsub(ignore_subscribe_messages=True)
                try:
                    await pubsub.subscribe(self._channel)
                    pause = 0.5
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            self.received_body(message["data"])
                finally:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()  # type: ignore[no-untyped-call]
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.info("console_news.listen_failed", error=type(e).__name__, retry_in=pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)


NEWS = TicketNews()


def _flushed(session: Session, _context: Any) -> None:
    touched: dict[int, Ticket | None] = session.info.setdefault(_FLAG, {})
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Ticket):
            touched[id(obj)] = obj
        elif isinstance(obj, TicketEvent) and obj.ticket_id is not None:
            touched.setdefault(-obj.ticket_id, None)


def _state(obj: Ticket) -> Change | None:
    # Read what the object holds without loading: this runs after commit, outside the loop's
    # greenlet, where a lazy load would fail.
    held = inspect(obj).dict
    ticket_id = held.get("id")
    if not isinstance(ticket_id, int):
        return None
    status = held.get("status")
    return Change(
        ticket_id,
        held.get("version") if isinstance(held.get("version"), int) else None,
        getattr(status, "value", None),
    )


def _committed(session: Session) -> None:
    touched: dict[int, Ticket | None] = session.info.pop(_FLAG, None) or {}
    # Rows written as Core INSERTs on the hot path never pass through a flush's `new`.
    for obj in session.info.get(INSERTED, ()):
        if isinstance(obj, Ticket):
            touched[id(obj)] = obj
        elif isinstance(obj, TicketEvent) and obj.ticket_id is not None:
            touched.setdefault(-obj.ticket_id, None)
    if not touched:
        return
    changes: dict[int, Change] = {}
    for key, obj in touched.items():
        change = _state(obj) if obj is not None else Change(-key)
        if change is not None and (change.ticket_id not in changes or obj is not None):
            changes[change.ticket_id] = change
    NEWS.announce(list(changes.values()))


def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


def install() -> None:
    """Listen to every session's flushes and commits (once per process)."""
    if not event.contains(Session, "after_flush", _flushed):
        event.listen(Session, "after_flush", _flushed)
        event.listen(Session, "after_commit", _committed)
        event.listen(Session, "after_rollback", _rolled_back)


install()
