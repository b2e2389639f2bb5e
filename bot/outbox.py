"""The outbox dispatcher: rate-limited, retried delivery of committed replies.

Rows are leased before sending, so several dispatchers can run side by side. A platform's
"slow down" (429 with a wait) pauses every sender of that scope through the shared state;
other failures back off exponentially with jitter, and a reply that may already have
reached the platform (a timeout after sending) is marked unknown rather than sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import structlog

from bot import metrics
from channels.base import Channel, DeliveryError
from channels.conversation import Address, Reply
from store.db import SessionFactory
from store.models import OutboxMessage
from store.state import SharedState
from store.types import utcnow
from store.uow import UNAVAILABLE, UnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """Sends per second allowed per conversation and per platform (burst on top)."""

    per_conversation: float
    per_platform: float
    burst: int = 1


# Platform guidance: Slack about 1 message/s per channel; Telegram 1/s per chat and 30/s
# overall; Twilio queues per sender; X's write limits are per 15 minutes.
LIMITS: dict[str, Limit] = {
    # Slack: 1 message/s per channel with short bursts (a reply plus a card update), and
    # "several hundred per minute" across a workspace.
    "slack": Limit(1.0, 5.0, 3),
    # Telegram: 1 message/s per chat and 30/s per bot; flood control answers 429 beyond.
    "telegram": Limit(1.0, 30.0, 3),
    # Twilio queues what a sender cannot send at once (a long code about 1/s), so this only
    # keeps one person's phone from buzzing in bursts and the queue from growing unbounded.
    "sms": Limit(1.0, 10.0, 2),
    "whatsapp": Limit(1.0, 10.0, 2),
    # X allows 200 DMs and 100 posts per 15 minutes per account: stay under 0.2/s overall.
    "x": Limit(0.5, 0.2, 3),
}
_WAIT_INLINE = 2.0


class Dispatcher:
    """Sends pending outbox rows through the channels this process has."""

    def __init__(
        self,
        *,
        factory: SessionFactory,
        channels: Mapping[str, Channel],
        state: SharedState,
        max_attempts: int = 8,
        batch: int = 100,
        lease_seconds: float = 60.0,
        sweep_seconds: float = 1.0,
        conversations: Sequence[str] | None = None,
    ) -> None:
        self.factory = factory
        self.channels = dict(channels)
        self.state = state
        self.max_attempts = max_attempts
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.sweep_seconds = sweep_seconds
        # A console session delivers only its own conversation's replies.
        self.conversations = list(conversations) if conversations is not None else None
        self._wake = asyncio.Event()
        self._hinted: list[int] = []

    @property
    def platforms(self) -> list[str]:
        return sorted(self.channels)

    def kick(self, outbox_ids: Sequence[int] = ()) -> None:
        """New rows were committed: send them now rather than at the next sweep."""
        self._hinted.extend(outbox_ids)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        if not self.channels:
            return
        log.info("dispatcher.started", platforms=self.platforms)
        first = True
        while not stop.is_set():
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.sweep_seconds)
            first = False
            self._wake.clear()
            hinted, self._hinted = self._hinted, []
            try:
                if hinted:
                    await self.dispatch(ids=hinted)
                while await self.dispatch() >= self.batch and not stop.is_set():
                    pass
            except UNAVAILABLE as e:
                log.warning("dispatcher.store_unavailable", error=str(e))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("dispatcher.failed")
                await asyncio.sleep(1.0)

    async def dispatch(self, *, ids: Sequence[int] | None = None) -> int:
        """Claim due rows (optionally only `ids`) and send them; returns how many were claimed."""
        async with UnitOfWork(self.factory) as uow:
            rows = await uow.outbox.claim(
                self.platforms,
                ids=ids,
                conversations=self.conversations,
                limit=self.batch,
                lease_seconds=self.lease_seconds,
            )
            await uow.commit()
        if not rows:
            return 0
        by_conversation: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_conversation[(row.platform, row.conversation_key)].append(row)
        outcomes: list[Outcome] = []
        try:
            await asyncio.gather(
                *(self._send_in_order(rs, outcomes) for rs in by_conversation.values())
            )
        finally:
            # One transaction records the whole batch; a crash before it leaves the leases
            # to lapse, and the rows are claimed again.
            await self._record(outcomes)
        return len(rows)

    async def _send_in_order(self, rows: list[OutboxMessage], outcomes: list[Outcome]) -> None:
        for i, row in enumerate(rows):
            outcome = await self._send(row)
            outcomes.append(outcome)
            if outcome.result != "sent":
                # Later replies of this conversation wait for the earlier one.
                outcomes.extend(
                    Outcome(
                        later, "retry", at_seconds=1.0, error="waiting for earlier", count=False
                    )
                    for later in rows[i + 1 :]
                )
                return

    async def _send(self, row: OutboxMessage) -> Outcome:
        channel = self.channels[row.platform]
        limit = LIMITS.get(row.platform)
        if limit is not None:
            wait = await self._slot(row, limit)
            if wait > 0:
                return Outcome(row, "retry", at_seconds=wait, error="rate limited", count=False)
        reply = replace(Reply.from_dict(row.reply), delivery_key=f"sb-{row.id}")
        if reply.replaces and reply.ticket_ref and reply.edit_id is None:
            async with UnitOfWork(self.factory) as uow:
                previous = await uow.outbox.last_external_id(
                    row.platform, row.conversation_key, reply.ticket_ref
                )
            reply = replace(reply, edit_id=previous)
        try:
            delivery = await channel.send(Address.from_dict(row.address), reply)
        except DeliveryError as e:
            return await self._refused(row, e)
        except Exception as e:
            log.warning("outbox.send_error", outbox_id=row.id, platform=row.platform, error=repr(e))
            return Outcome(row, "retry", at_seconds=self._backoff(row.attempts), error=repr(e))
        return Outcome(row, "sent", external_id=delivery.external_id)

    async def _slot(self, row: OutboxMessage, limit: Limit) -> float:
        """Wait for a send slot in the conversation and on the platform; 0 when granted."""
        scopes = [
            (_scope(row), limit.per_conversation, limit.burst),
            (f"{row.platform}:all", limit.per_platform, max(limit.burst, 5)),
        ]
        for scope, rate, burst in scopes:
            for _ in range(20):
                wait = await self.state.rate_wait(scope, per_second=rate, burst=burst)
                if wait <= 0:
                    break
                if wait > _WAIT_INLINE:
                    return wait
                await asyncio.sleep(wait)
            else:
                return 1.0
        return 0.0

    async def _refused(self, row: OutboxMessage, e: DeliveryError) -> Outcome:
        log.warning(
            "outbox.refused",
            outbox_id=row.id,
            platform=row.platform,
            error=str(e),
            retry_after=e.retry_after,
            permanent=e.permanent,
            ambiguous=e.ambiguous,
        )
        if e.permanent:
            return Outcome(row, "dead", error=str(e))
        if e.ambiguous:
            return Outcome(row, "unknown", error=str(e))
        if e.retry_after is not None:
            await self.state.pause(_scope(row), e.retry_after)
            await self.state.pause(f"{row.platform}:all", e.retry_after)
            return Outcome(row, "retry", at_seconds=e.retry_after, error=str(e))
        return Outcome(row, "retry", at_seconds=self._backoff(row.attempts), error=str(e))

    @staticmethod
    def _backoff(attempts: int) -> float:
        return min(2.0 ** max(attempts - 1, 0), 300.0) * random.uniform(0.5, 1.5)

    async def _record(self, outcomes: Sequence[Outcome]) -> None:
        if not outcomes:
            return
        now = utcnow()
        async with UnitOfWork(self.factory) as uow:
            sent = [(o.row.id, o.external_id) for o in outcomes if o.result == "sent"]
            if sent:
                await uow.outbox.mark_sent_many(sent)
                secret = [
                    o.row.id
                    for o in outcomes
                    if o.result == "sent" and o.row.reply.get("sensitive")
                ]
                await uow.outbox.forget_text(secret)
            for o in outcomes:
                result = o.result
                if result == "retry" and o.count and o.row.attempts >= self.max_attempts:
                    result = "dead"
                if result == "dead":
                    await uow.outbox.mark_dead(o.row.id, o.error)
                    metrics.DEAD_LETTERS.labels("outbox").inc()
                elif result == "unknown":
                    await uow.outbox.mark_unknown(o.row.id, o.error)
                elif result == "retry":
                    at = now + timedelta(seconds=o.at_seconds)
                    await uow.outbox.mark_retry(o.row.id, at=at, error=o.error, refund=not o.count)
                o.result = result
            await uow.commit()
        for o in outcomes:
            metrics.OUTBOX_SENDS.labels(o.row.platform, o.result).inc()
            if o.result == "sent":
                log.info("outbox.sent", outbox_id=o.row.id, platform=o.row.platform)


def _scope(row: OutboxMessage) -> str:
    """Platforms limit per chat or channel, not per thread: threads share their channel's."""
    return f"{row.platform}:conv:{row.address.get('conversation', row.conversation_key)}"


@dataclass
class Outcome:
    """What became of one reply in a dispatch batch."""

    row: OutboxMessage
    result: str
    at_seconds: float = 0.0
    error: str = ""
    external_id: str | None = None
    count: bool = True
