"""What becomes of a claimed inbox event that could not be handled now.

A handler that raised, a profile look-up that failed, a conversation another worker holds:
the event is queued again after a delay (with back-off), or, after its last allowed
attempt, dead-lettered with an apology to the person who sent it.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import structlog

from bot import metrics
from bot.delivery import add_reply
from channels.conversation import Event, Reply
from store.db import SessionFactory
from store.queue import Queue
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

APOLOGY = (
    "Sorry, I couldn't process your last message. The service desk has been told; "
    "please try again in a few minutes."
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """An inbox event a worker counted an attempt on, with how many attempts there were."""

    inbox_id: int
    deliveries: int
    event: Event


class Redelivery:
    """Retries with back-off and the dead letter, for one worker."""

    def __init__(self, *, factory: SessionFactory, queue: Queue, max_deliveries: int) -> None:
        self.factory = factory
        self.queue = queue
        self.max_deliveries = max_deliveries
        self._tasks: set[asyncio.Task[None]] = set()

    async def failed(self, claimed: Claimed, error: Exception) -> None:
        """A handler raised: retry later with back-off, or give up after the last attempt."""
        if claimed.deliveries >= self.max_deliveries:
            await self.dead_letter(claimed.inbox_id, claimed.event, repr(error))
            return
        async with UnitOfWork(self.factory) as uow:
            await uow.inbox.record_error(claimed.inbox_id, repr(error))
            await uow.commit()
        self.later(claimed.inbox_id, min(2**claimed.deliveries, 60) * random.uniform(0.5, 1.0))

    def later(self, inbox_id: int, delay: float) -> None:
        """Queue the event again after `delay` seconds."""
        task = asyncio.create_task(self._requeue(inbox_id, delay))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _requeue(self, inbox_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.queue.put([inbox_id])
        except Exception as e:  # the recovery sweep will find the pending row
            log.warning("worker.requeue_failed", inbox_id=inbox_id, error=str(e))

    async def dead_letter(self, inbox_id: int, event: Event | None, error: str) -> None:
        """Give up on an event; its sender (when it could be read) hears so."""
        metrics.DEAD_LETTERS.labels("inbox").inc()
        log.error("inbox.dead_letter", inbox_id=inbox_id, error=error)
        async with UnitOfWork(self.factory) as uow:
            await uow.inbox.mark_dead(inbox_id, error)
            if event is not None:
                add_reply(uow, event.address, Reply(text=APOLOGY), inbox_id=inbox_id)
            await uow.commit()

    def cancel(self) -> None:
        """Drop the retries still waiting (the pending rows stay for the recovery sweep)."""
        for task in list(self._tasks):
            task.cancel()
