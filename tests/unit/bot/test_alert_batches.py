"""Alert storms in a worker batch: repeats counted in one statement, order kept per problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from bot.config import Settings
from bot.router import IntentRouter
from bot.worker import Worker
from channels.alerts.parse import make_alert
from channels.conversation import Address, Alert
from handlers.registry import load as load_handlers
from nlu.types import CatalogEntry, Understanding
from store.db import create_engine, session_factory
from store.enums import Status, TicketKind
from store.models import ChannelIdentity, OutboxMessage, Ticket
from store.queue import InProcessQueue
from store.state import LocalState
from store.uow import UnitOfWork

FP = "disk-full-db7"
START = datetime(2026, 12, 3, 9, tzinfo=UTC)


class NoText:
    """Alerts carry no text: the worker must not ask the model about them."""

    threshold = 0.5

    def parse(self, text: str, *, now: datetime | None = None) -> Understanding:
        raise AssertionError("an alert was sent to the NLU")

    def parse_many(
        self, texts: Sequence[str], *, now: datetime | None = None
    ) -> list[Understanding]:
        raise AssertionError("an alert was sent to the NLU")

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        return None


@asynccontextmanager
async def worker(settings: Settings) -> AsyncIterator[tuple[Worker, list[str]]]:
    """A worker on the settings' database, and the SQL it runs from now on."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    w = Worker(
        factory=session_factory(engine),
        queue=InProcessQueue(),
        state=LocalState(),
        understander=NoText(),
        router=IntentRouter(load_handlers()),
        topics=lambda _: [],
    )
    try:
        yield w, statements
    finally:
        await engine.dispose()


def alert(n: int, status: str = "firing") -> Alert:
    # A distinct start per notification: each is news, not a retried delivery.
    return make_alert(
        integration="prometheus",
        source="prometheus",
        fingerprint=FP,
        status=status,
        ci="db-7",
        severity="info",
        summary="Disk filling on db-7",
        labels={"host": "db-7"},
        starts_at=START + timedelta(minutes=n),
    )


async def batch(w: Worker, alerts: list[Alert]) -> None:
    """Store the alerts in the inbox and handle them as one claimed batch."""
    ids = []
    async with UnitOfWork(w.factory) as uow:
        for a in alerts:
            inbox_id = await uow.inbox.insert("alerts", a.event_id, a.to_dict(), a.address.key)
            assert inbox_id is not None
            ids.append(inbox_id)
        await uow.commit()
    await w.queue.put(ids)
    await w.process(await w.queue.claim(w.consumer, count=len(ids), block_ms=100))
    async with UnitOfWork(w.factory) as uow:
        assert set(await uow.inbox.counts()) == {"done"}


async def state(w: Worker) -> tuple[list[tuple[str, Status]], int, list[str]]:
    """The incidents (ref, status), the fingerprint's count, and the first one's history."""
    async with UnitOfWork(w.factory) as uow:
        stmt = select(Ticket).where(Ticket.kind == TicketKind.INCIDENT).order_by(Ticket.id)
        tickets = list(await uow.session.scalars(stmt))
        row = await uow.alerts.by_fingerprint(FP)
        assert row is not None
        history = [e.action for e in await uow.tickets.events(tickets[0].id)]
        return [(t.ref, t.status) for t in tickets], row.count, history


def alert_writes(statements: list[str]) -> tuple[int, int]:
    """UPDATEs of alert incidents, and rows written to ticket events."""
    updates = sum(1 for s in statements if s.startswith("UPDATE alert_incidents"))
    events = sum(1 for s in statements if s.startswith("INSERT INTO ticket_events"))
    return updates, events


async def test_a_batch_of_repeats_is_one_statement_and_one_count(any_settings: Settings) -> None:
    async with worker(any_settings) as (w, statements):
        await batch(w, [alert(0)])
        statements.clear()
        await batch(w, [alert(n) for n in range(1, 65)])
        assert alert_writes(statements) == (1, 0)
        incidents, count, history = await state(w)
    assert incidents == [("INC-1", Status.NEW)]
    assert count == 65
    # The count is the record of repeats: the ticket's history is not buried under them.
    assert history == ["created"]


async def test_repeats_in_the_batch_that_opens_the_incident_count_on_it(
    any_settings: Settings,
) -> None:
    async with worker(any_settings) as (w, _):
        await batch(w, [alert(n) for n in range(5)])
        incidents, count, history = await state(w)
    assert incidents == [("INC-1", Status.NEW)]
    assert count == 5
    assert history == ["created"]


async def test_fire_repeat_resolve_in_one_batch_ends_resolved(any_settings: Settings) -> None:
    async with worker(any_settings) as (w, _):
        await batch(w, [alert(0), alert(1), alert(2, "resolved")])
        assert (await state(w))[:2] == ([("INC-1", Status.RESOLVED)], 2)
        # With the incident open before the batch: the repeats are counted, then it resolves.
        await batch(w, [alert(3)])
        await batch(w, [alert(4), alert(5), alert(6, "resolved")])
        incidents, count, _ = await state(w)
    assert incidents == [("INC-1", Status.RESOLVED), ("INC-2", Status.RESOLVED)]
    assert count == 3


async def test_a_firing_after_the_clearance_in_one_batch_opens_a_new_incident(
    any_settings: Settings,
) -> None:
    async with worker(any_settings) as (w, _):
        await batch(w, [alert(0)])
        await batch(w, [alert(1), alert(2, "resolved"), alert(3), alert(4)])
        incidents, count, _ = await state(w)
    # Order is kept within the batch: the problem came back after it cleared.
    assert incidents == [("INC-1", Status.RESOLVED), ("INC-2", Status.NEW)]
    assert count == 2


async def test_a_clearance_after_a_person_worked_it_tells_the_assignee(
    any_settings: Settings,
) -> None:
    bob_dm = Address(channel="slack", workspace="T1", conversation="D0BOB", user="U0BOB")
    async with worker(any_settings) as (w, _):
        await batch(w, [alert(0)])
        async with UnitOfWork(w.factory) as uow:
            ticket = await uow.tickets.by_ref("INC-1")
            bob = await uow.people.by_email("bob@example.com")
            assert ticket is not None
            assert bob is not None
            ticket.assignee_id = bob.id
            ticket.status = Status.IN_PROGRESS
            uow.tickets.log(ticket, "assigned", actor=bob, channel="console")
            uow.session.add(
                ChannelIdentity(
                    person_id=bob.id,
                    platform="slack",
                    external_id="U0BOB",
                    last_address=bob_dm.to_dict(),
                    last_seen_at=START,
                )
            )
            await uow.commit()
        await batch(w, [alert(1), alert(2), alert(3, "resolved")])
        incidents, count, history = await state(w)
        async with UnitOfWork(w.factory) as uow:
            told = list(await uow.session.scalars(select(OutboxMessage)))
    assert incidents == [("INC-1", Status.IN_PROGRESS)]
    assert count == 3
    assert history[-1] == "alert_cleared"
    [to_bob] = [m for m in told if m.conversation_key == bob_dm.key]
    assert "alert behind INC-1 has cleared" in str(to_bob.reply.get("text"))
