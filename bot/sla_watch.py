"""The service-level watcher: acts on clocks when their time comes, on the scheduler's leader.

It never scans the open tickets. It asks the index for the earliest `sla_next_at`, sleeps
until then (or until kicked, or at most `longest` seconds, so a ticket opened meanwhile with
an earlier instant is not missed for long), and handles the tickets due in small batches:
a batch is read in one query and written in one transaction with its notifications (one
commit, however many tickets fell due in the same second). Two leaders overlapping in a
handover cannot both act on a ticket: each ticket's update is checked against the version
it read, and a batch that loses such a race rolls back and is taken again ticket by
ticket, each in its own transaction, where the loser's notifications roll back with it.

Every `sweep` seconds a tick also closes resolved tickets whose quiet period is over, asks
the requesters of newly resolved tickets the satisfaction survey, and pages on call for
urgent tickets nobody has taken; each reads a small indexed set (resolved, new P1/P2 of
groups with a rota).

A commit anywhere that creates a ticket or moves its clock kicks the watcher
(`bot.sla_kick`): in this process directly, in the others through Redis pub/sub, so a
short target never waits for the longest sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from redis.asyncio import Redis

from bot.container import Container
from bot.delivery import add_outgoing
from bot.sla_kick import KICKS
from channels.conversation import Address
from handlers import escalation, survey
from handlers.context import Outgoing
from store.db import SessionFactory
from store.errors import ConflictError
from store.models import OutboxMessage, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

Act = Callable[[UnitOfWork, Ticket, datetime], Awaitable[list[Outgoing]]]


@dataclass
class TickResult:
    """What one tick did: tickets acted on, lost to another watcher, notifications written."""

    acted: int = 0
    lost: int = 0
    outbox_ids: list[int] | None = None


class SlaWatch:
    """Warnings, breaches, escalation, auto-close and on-call paging for one database."""

    def __init__(
        self,
        factory: SessionFactory,
        *,
        topics: Callable[[str], Sequence[Address]] = lambda _topic: (),
        on_sent: Callable[[list[int]], None] = lambda _ids: None,
        now: Callable[[], datetime] = utcnow,
        batch: int = 50,
        max_batches: int = 20,
        longest: float = 10.0,
        sweep: float = 10.0,
        redis: Redis | None = None,
    ) -> None:
        self.factory = factory
        self.topics = topics
        self.on_sent = on_sent
        self.now = now
        self.batch = batch
        self.max_batches = max_batches
        self.longest = longest
        self.sweep = sweep
        self.redis = redis
        self._swept_at: datetime | None = None
        self._kick = asyncio.Event()
        self._wake_at: datetime | None = None

    def kick(self) -> None:
        """Look again now (a ticket was opened or changed its clock)."""
        self._kick.set()

    def _planned(self) -> datetime | None:
        """When the current sleep ends by itself; None while ticking (a kick then wakes it)."""
        return self._wake_at

    async def run(self, stop: asyncio.Event, leading: Callable[[], bool]) -> None:
        """Tick while `leading()` says so, sleeping until the next instant due or a kick."""
        KICKS.watch(self._kick, self._planned)
        listening = (
            asyncio.create_task(
                KICKS.listen(self.redis, self._kick, stop, self._planned), name="sla-kicks"
            )
            if self.redis is not None
            else None
        )
        try:
            while not stop.is_set():
                wait = self.longest
                # Cleared before the tick, so a ticket committed during it wakes the next;
                # until the next sleep is planned, every kick does.
                self._kick.clear()
                self._wake_at = None
                if leading():
                    try:
                        await self.tick()
                        wait = await self.seconds_to_next()
                    except Exception as e:
                        log.warning("sla_watch.tick_failed", error=str(e))
                self._wake_at = self.now() + timedelta(seconds=wait)
                await self._sleep(stop, wait)
                self._wake_at = None
        finally:
            KICKS.unwatch(self._kick)
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        kicked = asyncio.ensure_future(self._kick.wait())
        try:
            await asyncio.wait(
                {stopping, kicked}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for f in (stopping, kicked):
                f.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await f

    async def seconds_to_next(self) -> float:
        """How long to sleep: until the earliest `sla_next_at`, at most `longest`."""
        async with UnitOfWork(self.factory) as uow:
            at = await uow.desk.next_due_at()
        if at is None:
            return self.longest
        return min(self.longest, max(0.0, (at - self.now()).total_seconds()))

    async def tick(self) -> TickResult:
        """Act on everything due now: clocks first, then closing, then paging."""
        now = self.now()
        result = TickResult(outbox_ids=[])
        await self._clocks(now, result)
        await self._suppliers(now, result)
        if self._swept_at is None or abs((now - self._swept_at).total_seconds()) >= self.sweep:
            # Closing and paging are minutes apart by nature: a wake-up for a clock's instant
            # need not look at them again.
            self._swept_at = now
            await self._closing(now, result)
            await self._surveys(now, result)
            await self._paging(now, result)
        if result.outbox_ids:
            self.on_sent(result.outbox_ids)
        return result

    async def _clocks(self, now: datetime, result: TickResult) -> None:
        done: set[int] = set()
        for _ in range(self.max_batches):
            async with UnitOfWork(self.factory) as uow:
                due = await uow.desk.due_keys(now, limit=self.batch)
            fresh = [(i, at) for i, at in due if i not in done]
            done.update(i for i, _ in fresh)
            await self._many(fresh, result, escalation.act_on_clock, now)
            if len(due) < self.batch or not fresh:
                return

    async def _suppliers(self, now: datetime, result: TickResult) -> None:
        done: set[int] = set()
        for _ in range(self.max_batches):
            async with UnitOfWork(self.factory) as uow:
                ids = await uow.desk.supplier_due(now, limit=self.batch)
            fresh = [i for i in ids if i not in done]
            done.update(fresh)
            await self._many([(i, None) for i in fresh], result, escalation.act_on_suppliers, now)
            if len(ids) < self.batch or not fresh:
                return

    async def _closing(self, now: datetime, result: TickResult) -> None:
        after: tuple[datetime, int] | None = None
        for _ in range(self.max_batches):
            async with UnitOfWork(self.factory) as uow:
                until = now - await escalation.quiet_floor(uow)
                page = [
                    (t.id, t.resolved_at)
                    for t in await uow.desk.resolved_before(until, after=after, limit=self.batch)
                ]
            await self._many(
                [(ticket_id, None) for ticket_id, _ in page], result, escalation.close_if_quiet, now
            )
            if len(page) < self.batch:
                return
            last_id, last_at = page[-1]
            if last_at is None:
                return
            after = (last_at, last_id)

    async def _surveys(self, now: datetime, result: TickResult) -> None:
        for _ in range(self.max_batches):
            async with UnitOfWork(self.factory) as uow:
                found = await uow.surveys.unasked(now - survey.ASKED_WITHIN, limit=self.batch)
                ids = [t.id for t in found]
            await self._many([(i, None) for i in ids], result, survey.ask, now)
            if len(ids) < self.batch:
                return

    async def _paging(self, now: datetime, result: TickResult) -> None:
        async with UnitOfWork(self.factory) as uow:
            groups = await uow.desk.oncall_groups()
            found = (
                await uow.desk.untaken(escalation.PAGED, groups, limit=self.batch * 4)
                if groups
                else []
            )
            ids = [t.id for t in found]
        await self._many([(i, None) for i in ids], result, escalation.page, now)

    async def _one(
        self,
        ticket_id: int,
        result: TickResult,
        act: Act,
        now: datetime,
        *,
        seen: datetime | None = None,
    ) -> None:
        await self._alone(ticket_id, seen, result, act, now)

    async def _many(
        self,
        keys: Sequence[tuple[int, datetime | None]],
        result: TickResult,
        act: Act,
        now: datetime,
    ) -> None:
        """Act on these tickets: together in one transaction, else each alone.

        A key's `seen` is the `sla_next_at` the ticket was found with (None: not checked);
        a ticket another watcher already moved is skipped. Tickets due in the same second
        share one read and one commit; if anything in that transaction fails (a race lost
        on one ticket's version, one ticket's error), it rolls back whole and each ticket
        is taken again in its own transaction, so one ticket never holds back the others.
        """
        if len(keys) > 1:
            try:
                done = await self._together(keys, act, now)
            except Exception as e:
                log.info("sla_watch.batch_split", tickets=len(keys), error=type(e).__name__)
            else:
                result.acted += done.acted
                result.lost += done.lost
                if result.outbox_ids is not None and done.outbox_ids:
                    result.outbox_ids.extend(done.outbox_ids)
                return
        for ticket_id, seen in keys:
            await self._alone(ticket_id, seen, result, act, now)

    async def _together(
        self, keys: Sequence[tuple[int, datetime | None]], act: Act, now: datetime
    ) -> TickResult:
        done = TickResult(outbox_ids=[])
        async with UnitOfWork(self.factory) as uow:
            found = await uow.desk.load_tickets([i for i, _ in keys])
            acting: list[tuple[Ticket, int, list[OutboxMessage]]] = []
            for ticket_id, seen in keys:
                ticket = found.get(ticket_id)
                if ticket is None:
                    continue
                if seen is not None and ticket.sla_next_at != seen:
                    done.lost += 1
                    continue
                version = ticket.version
                outgoing = await act(uow, ticket, now)
                rows = await add_outgoing(
                    uow, outgoing, topics=self.topics, exclude=None, inbox_id=None
                )
                acting.append((ticket, version, rows))
            await uow.flush()
            for ticket, version, rows in acting:
                # Every action moves the version (`claim`); an unmoved ticket had nothing
                # due after all (not quiet long enough, a page still waiting).
                if ticket.version != version:
                    done.acted += 1
                    assert done.outbox_ids is not None
                    done.outbox_ids.extend(r.id for r in rows if r.id is not None)
            await uow.commit()
        return done

    async def _alone(
        self,
        ticket_id: int,
        seen: datetime | None,
        result: TickResult,
        act: Act,
        now: datetime,
    ) -> None:
        """One ticket, one transaction; a ticket another watcher already moved is skipped."""
        try:
            async with UnitOfWork(self.factory) as uow:
                ticket = await uow.tickets.get(ticket_id)
                if ticket is None:
                    return
                if seen is not None and ticket.sla_next_at != seen:
                    result.lost += 1
                    return
                version = ticket.version
                outgoing = await act(uow, ticket, now)
                rows = await add_outgoing(
                    uow, outgoing, topics=self.topics, exclude=None, inbox_id=None
                )
                await uow.commit()
                if ticket.version == version:
                    return
        except ConflictError:
            result.lost += 1
            log.info("sla_watch.lost_race", ticket_id=ticket_id)
            return
        except Exception as e:
            log.warning("sla_watch.ticket_failed", ticket_id=ticket_id, error=str(e))
            return
        result.acted += 1
        if result.outbox_ids is not None:
            result.outbox_ids.extend(r.id for r in rows if r.id is not None)


def for_container(container: Container) -> SlaWatch:
    """The watcher over a container's database, kicking its outbox dispatcher."""
    dispatcher = container.dispatcher

    def sent(ids: list[int]) -> None:
        if dispatcher is not None:
            dispatcher.kick(ids)

    return SlaWatch(container.factory, topics=container.topics, on_sent=sent, redis=container.redis)
