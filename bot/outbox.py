"""The outbox dispatcher: rate-limited, retried delivery of committed replies, each sent once.

Over 400 lines: claiming, sending and settling a reply are one protocol around one claim
token, and read best side by side.

Each platform drains in its own task, and a claim takes only the first few open replies of
each conversation, so a slow or rate-limited platform or conversation holds back only itself.
Before the platform is called the row is committed as `sending`; the outcome is committed
right after the call. A row found `sending` with a lapsed lease may have reached the
platform: a channel that can look (a delivery key in Slack's message metadata) is asked,
anything else is marked unknown rather than sent twice. A platform's "slow down" (429 with
a wait) pauses every sender of that scope through the shared state; other failures back
off exponentially with jitter, then the reply is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Protocol, runtime_checkable

import structlog

from bot import metrics
from bot.delivery import READ_FROM_OUTBOX
from channels.base import Channel, Delivery, DeliveryError
from channels.conversation import Address, Reply
from store.db import SessionFactory
from store.enums import OutboxStatus
from store.outbox import ClaimedReply, OutboxRepository
from store.state import SharedState
from store.types import utcnow
from store.uow import UNAVAILABLE, UnitOfWork

log = structlog.get_logger(__name__)

FAULTS_ENV = "SWITCHBOARD_FAULTS"
"""Test-only fault injection: `crash_during_send` exits after the platform call, unrecorded."""


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
# The web chat page reads committed replies from the outbox itself; "sending" one only marks
# it, so an interrupted send of it is as good as done. Most of its replies are stored sent
# (`bot.delivery.add_reply`); the rest come here.
_READ_FROM_OUTBOX = READ_FROM_OUTBOX
# Waits up to this long are slept in place; longer ones give the row back until then.
_WAIT_INLINE = 1.0


@runtime_checkable
class GiveUpAware(Protocol):
    """A channel that must hear when a reply is dead-lettered (an automation fails its task)."""

    async def gave_up(self, address: Address, reply: Reply, error: str) -> None:
        """The dispatcher stopped trying to deliver `reply`, for `error`."""
        ...


@runtime_checkable
class DeliveryLookup(Protocol):
    """A channel that can tell whether a reply reached the platform, by its `delivery_key`."""

    async def find_delivery(self, address: Address, reply: Reply) -> Delivery | None:
        """The delivery carrying `reply.delivery_key`, None when the platform has none.

        Raises when the platform cannot be asked; the reply is then marked unknown.
        """
        ...


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
        per_conversation: int = 3,
        lease_seconds: float = 60.0,
        sweep_seconds: float = 1.0,
        conversations: Sequence[str] | None = None,
        faults: str | None = None,
    ) -> None:
        self.factory = factory
        self.channels = dict(channels)
        self.state = state
        self.max_attempts = max_attempts
        self.batch = batch
        self.per_conversation = per_conversation
        self.lease_seconds = lease_seconds
        self.sweep_seconds = sweep_seconds
        # A console session delivers only its own conversation's replies.
        self.conversations = list(conversations) if conversations is not None else None
        raw = os.environ.get(FAULTS_ENV, "") if faults is None else faults
        self.faults = frozenset(f.strip() for f in raw.split(",") if f.strip())
        self._wake = {p: asyncio.Event() for p in self.channels}
        # When each platform's drain next looks for rows left `sending` by a vanished sender.
        self._lapsed_next: dict[str, float] = {}

    @property
    def platforms(self) -> list[str]:
        """The platforms this sender delivers to, in a stable order."""
        return sorted(self.channels)

    def kick(
        self, outbox_ids: Sequence[int] = (), *, platforms: Iterable[str] | None = None
    ) -> None:
        """New rows were committed: send them now rather than at the next sweep.

        With `platforms` only their drains wake: every other one would claim nothing, at
        the cost of a transaction each.
        """
        names = self._wake if platforms is None else platforms
        for platform in names:
            if platform in self._wake:
                self._wake[platform].set()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain every platform in its own task until `stop` is set."""
        if not self.channels:
            return
        log.info("dispatcher.started", platforms=self.platforms)
        await asyncio.gather(*(self._drain(p, stop) for p in self.platforms))

    async def _drain(self, platform: str, stop: asyncio.Event) -> None:
        wake = self._wake[platform]
        first = True
        while not stop.is_set():
            if not first:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self.sweep_seconds)
            first = False
            wake.clear()
            try:
                while (
                    await self._dispatch_platform(platform, lapsed=self._lapsed_due(platform)) > 0
                    and not stop.is_set()
                ):
                    pass
            except UNAVAILABLE as e:
                log.warning("dispatcher.store_unavailable", platform=platform, error=str(e))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("dispatcher.failed", platform=platform)
                await asyncio.sleep(1.0)

    async def dispatch(self, *, platforms: Sequence[str] | None = None) -> int:
        """One round for each platform: claim due rows and send them; how many were claimed."""
        total = 0
        for platform in platforms if platforms is not None else self.platforms:
            total += await self._dispatch_platform(platform)
        return total

    def _lapsed_due(self, platform: str) -> bool:
        """Whether this round looks for lapsed `sending` rows: once a sweep at most.

        A lease lapses after `lease_seconds`, so looking on every kick only costs a query
        per round; a sweep's delay is nothing beside the lease.
        """
        now = time.monotonic()
        if now < self._lapsed_next.get(platform, 0.0):
            return False
        self._lapsed_next[platform] = now + self.sweep_seconds
        return True

    async def _dispatch_platform(self, platform: str, *, lapsed: bool = True) -> int:
        in_place = platform in _READ_FROM_OUTBOX and platform not in LIMITS
        settled: list[tuple[Outcome, str]] = []
        done: list[bool] = []
        async with UnitOfWork(self.factory) as uow:
            stale = (
                await uow.outbox.claim_lapsed(
                    [platform],
                    conversations=self.conversations,
                    limit=self.batch,
                    lease_seconds=self.lease_seconds,
                )
                if lapsed
                else []
            )
            rows = await uow.outbox.claim(
                [platform],
                conversations=self.conversations,
                limit=self.batch,
                per_conversation=self.per_conversation,
                lease_seconds=self.lease_seconds,
            )
            if in_place and rows:
                # A page that reads the outbox itself needs nothing committed before its
                # "send" (an interrupted one is as good as done, see `_settle`): the claim
                # and every outcome share one transaction. Should it fail, the rows are
                # still pending and the next round hands them over again.
                outcomes = [await self._call(row, self._reply(row)) for row in rows]
                settled = [(o, self._result(o)) for o in outcomes]
                done = await self._store_outcomes(uow.outbox, settled, OutboxStatus.PENDING)
            await uow.commit()
        if not rows and not stale:
            return 0
        await self._after_outcomes(settled, done)
        by_conversation: dict[str, list[ClaimedReply]] = defaultdict(list)
        if not in_place:
            for row in rows:
                by_conversation[row.conversation_key].append(row)
        # Every conversation finishes its turn before an error is raised, so none is orphaned.
        results = await asyncio.gather(
            *(self._settle(row) for row in stale),
            *(self._send_in_order(rs) for rs in by_conversation.values()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return len(rows) + len(stale)

    async def _send_in_order(self, rows: list[ClaimedReply]) -> None:
        for i, row in enumerate(rows):
            if not await self._deliver(row):
                # Later replies of this conversation wait for the earlier one.
                for later in rows[i + 1 :]:
                    await self._write(_releaser(later, "waiting for earlier"))
                return

    async def _deliver(self, row: ClaimedReply) -> bool:
        """Send one claimed row and record what happened; True when it was sent."""
        limit = LIMITS.get(row.platform)
        if limit is not None:
            wait = await self._slot(row, limit)
            if wait > 0:
                await self._write(_releaser(row, "paced", after=wait))
                return False
        reply = self._reply(row)
        if reply.replaces and reply.ticket_ref and reply.edit_id is None:
            async with UnitOfWork(self.factory) as uow:
                previous = await uow.outbox.last_external_id(
                    row.platform, row.conversation_key, reply.ticket_ref
                )
            reply = replace(reply, edit_id=previous)
        # Committed before the call: from here on a crash leaves the row "maybe sent".
        if not await self._write(
            lambda o: o.begin_send(row.id, row.attempts, lease_seconds=self.lease_seconds),
            persist=False,
        ):
            log.info("outbox.lease_lost", outbox_id=row.id, platform=row.platform)
            return False
        outcome = await self._call(row, reply)
        if "crash_during_send" in self.faults:
            os._exit(70)
        await self._record(outcome)
        return outcome.result == "sent"

    async def _call(self, row: ClaimedReply, reply: Reply) -> Outcome:
        channel = self.channels[row.platform]
        try:
            delivery = await channel.send(Address.from_dict(row.address), reply)
        except DeliveryError as e:
            return await self._refused(row, e)
        except Exception as e:
            # Nothing says whether the platform took it: never guess that it did not.
            log.warning("outbox.send_error", outbox_id=row.id, platform=row.platform, error=repr(e))
            return Outcome(row, "unknown", error=repr(e))
        return Outcome(row, "sent", external_id=delivery.external_id)

    async def _settle(self, row: ClaimedReply) -> None:
        """A row left `sending` by a vanished sender: find it on the platform, or mark unknown."""
        channel = self.channels[row.platform]
        reply = self._reply(row)
        if row.platform in _READ_FROM_OUTBOX:
            await self._record(Outcome(row, "sent"))
            return
        if not isinstance(channel, DeliveryLookup) or reply.ephemeral:
            await self._record(Outcome(row, "unknown", error="interrupted while sending"))
            return
        try:
            found = await channel.find_delivery(Address.from_dict(row.address), reply)
        except Exception as e:
            await self._record(Outcome(row, "unknown", error=f"interrupted; lookup: {e!r}"))
            return
        if found is not None:
            await self._record(Outcome(row, "sent", external_id=found.external_id))
        else:
            await self._record(
                Outcome(row, "retry", error="interrupted; not delivered", count=False)
            )

    @staticmethod
    def _reply(row: ClaimedReply) -> Reply:
        return replace(Reply.from_dict(row.reply), delivery_key=f"sb-{row.id}")

    async def _slot(self, row: ClaimedReply, limit: Limit) -> float:
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

    async def _refused(self, row: ClaimedReply, e: DeliveryError) -> Outcome:
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
        if e.hold:
            wait = e.retry_after if e.retry_after is not None else self._backoff(row.attempts)
            return Outcome(row, "retry", at_seconds=wait, error=str(e), count=False)
        if e.retry_after is not None:
            await self.state.pause(_scope(row), e.retry_after)
            await self.state.pause(f"{row.platform}:all", e.retry_after)
            return Outcome(row, "retry", at_seconds=e.retry_after, error=str(e))
        return Outcome(row, "retry", at_seconds=self._backoff(row.attempts), error=str(e))

    @staticmethod
    def _backoff(attempts: int) -> float:
        return min(2.0 ** max(attempts - 1, 0), 300.0) * random.uniform(0.5, 1.5)

    async def _record(self, o: Outcome) -> None:
        """Commit one row's outcome; a failed commit is retried, never answered by a resend."""
        await self._record_many([o], held=OutboxStatus.SENDING)

    async def _record_many(self, outcomes: Sequence[Outcome], *, held: OutboxStatus) -> None:
        """Commit the outcomes of rows left in `held`, in one transaction (retried likewise)."""
        if not outcomes:
            return
        decided = [(o, self._result(o)) for o in outcomes]
        done: list[bool] = []

        async def apply(outbox: OutboxRepository) -> bool:
            done[:] = await self._store_outcomes(outbox, decided, held)
            return True

        await self._write(apply)
        await self._after_outcomes(decided, done)

    @staticmethod
    async def _store_outcomes(
        outbox: OutboxRepository, decided: Sequence[tuple[Outcome, str]], held: OutboxStatus
    ) -> list[bool]:
        """Store decided outcomes of rows left in `held`; for each, whether the claim was ours."""
        done: list[bool] = []
        plain = [
            (o.row.id, o.row.attempts)
            for o, result in decided
            if result == "sent" and o.external_id is None and len(decided) > 1
        ]
        ours = await outbox.mark_sent_many(plain, held=held)
        settled = {i for i, _ in plain}
        sensitive = {o.row.id for o, _ in decided if o.row.reply.get("sensitive")}
        await outbox.forget_text(sorted(ours & sensitive))
        for o, result in decided:
            if o.row.id in settled:
                done.append(o.row.id in ours)
            else:
                done.append(await _apply_outcome(outbox, o, result, held))
        return done

    async def _after_outcomes(
        self, decided: Sequence[tuple[Outcome, str]], done: Sequence[bool]
    ) -> None:
        """Count, log and report (dead letters) the outcomes that were stored."""
        for (o, result), changed in zip(decided, done, strict=True):
            row = o.row
            if not changed:
                # Another dispatcher settled it after our lease lapsed; theirs stands.
                log.info("outbox.outcome_superseded", outbox_id=row.id, result=result)
                continue
            if result == "dead":
                metrics.DEAD_LETTERS.labels("outbox").inc()
                await self._gave_up(row, o.error)
            metrics.OUTBOX_SENDS.labels(row.platform, result).inc()
            if result == "sent":
                log.info("outbox.sent", outbox_id=row.id, platform=row.platform)

    def _result(self, o: Outcome) -> str:
        """The outcome to store: a retry past the last attempt is dead."""
        if o.result == "retry" and o.count and o.row.attempts >= self.max_attempts:
            return "dead"
        return o.result

    async def _gave_up(self, row: ClaimedReply, error: str) -> None:
        channel = self.channels.get(row.platform)
        if not isinstance(channel, GiveUpAware):
            return
        try:
            await channel.gave_up(Address.from_dict(row.address), self._reply(row), error)
        except Exception:
            log.exception("outbox.gave_up_failed", outbox_id=row.id, platform=row.platform)

    async def _write(
        self, change: Callable[[OutboxRepository], Awaitable[bool]], *, persist: bool = True
    ) -> bool:
        """Run `change` in its own transaction; with `persist`, retry while the store is away.

        Retries stop after twice the lease: by then another dispatcher treats the row as
        possibly sent, which is just as safe.
        """
        delay, deadline = 0.05, time.monotonic() + 2 * self.lease_seconds
        while True:
            try:
                async with UnitOfWork(self.factory) as uow:
                    done = await change(uow.outbox)
                    await uow.commit()
                    return done
            except UNAVAILABLE as e:
                if not persist or time.monotonic() > deadline:
                    raise
                log.warning("outbox.record_retry", error=str(e))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)


async def _apply_outcome(
    outbox: OutboxRepository, o: Outcome, result: str, held: OutboxStatus
) -> bool:
    """Store one row's outcome if the claim is still ours; whether it was."""
    row = o.row
    if result == "sent":
        done = await outbox.mark_sent(row.id, row.attempts, o.external_id, held=held)
        if done and row.reply.get("sensitive"):
            await outbox.forget_text([row.id])
        return done
    if result == "dead":
        return await outbox.mark_dead(row.id, row.attempts, o.error, held=held)
    if result == "unknown":
        return await outbox.mark_unknown(row.id, row.attempts, o.error, held=held)
    at = utcnow() + timedelta(seconds=o.at_seconds)
    return await outbox.mark_retry(
        row.id, row.attempts, at=at, error=o.error, refund=not o.count, held=held
    )


def _releaser(
    row: ClaimedReply, why: str, *, after: float = 0.0
) -> Callable[[OutboxRepository], Awaitable[bool]]:
    """Gives a claimed, unsent row back, due again `after` seconds from now."""

    async def release(outbox: OutboxRepository) -> bool:
        at = utcnow() + timedelta(seconds=after)
        return await outbox.release(row.id, row.attempts, at=at, error=why)

    return release


def _scope(row: ClaimedReply) -> str:
    """Platforms limit per chat or channel, not per thread: threads share their channel's."""
    return f"{row.platform}:conv:{row.address.get('conversation', row.conversation_key)}"


@dataclass
class Outcome:
    """What became of one reply."""

    row: ClaimedReply
    result: str
    at_seconds: float = 0.0
    error: str = ""
    external_id: str | None = None
    count: bool = True
