"""A desk's past, written straight into a fresh database, for benchmarks that need one.

A statement that reads a whole table costs nothing on the empty database a benchmark starts
from, and grows with every message on a desk that has run for a year. `fill(engine, n)`
writes `n` past conversations before the run: for each, a contact and their web chat
identity, a closed incident with its opening event, its inbox row and two sent replies; and a
recurrence offer for every twentieth, all dated a year back, outside every window the hot
path asks about, so the work of a message stays the same and only the tables grow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from store.enums import InboxStatus, OutboxStatus, PersonKind, Status, TicketKind
from store.models import (
    ChannelIdentity,
    InboxEvent,
    OutboxMessage,
    Person,
    Service,
    Ticket,
    TicketCounter,
    TicketEvent,
)
from store.problems import RecurrenceOffer
from store.tickets import ticket_sequence
from store.types import utcnow

CHUNK = 2000


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _chunks(n: int) -> Iterator[range]:
    for start in range(0, n, CHUNK):
        yield range(start, min(start + CHUNK, n))


async def fill(
    engine: AsyncEngine, n: int, *, progress: Callable[[int], None] | None = None
) -> None:
    """Write `n` past conversations (see the module); `progress` is told each chunk's size."""
    if n <= 0:
        return
    then = utcnow() - timedelta(days=365)
    async with engine.begin() as conn:
        service = (await conn.execute(select(Service.id).order_by(Service.id).limit(1))).scalar()
        last_person = (await conn.execute(select(func.max(Person.id)))).scalar() or 0
        last_ticket = (await conn.execute(select(func.max(Ticket.id)))).scalar() or 0
        last_number = (
            await conn.execute(
                select(func.max(Ticket.number)).where(Ticket.kind == TicketKind.INCIDENT)
            )
        ).scalar() or 0
    for part in _chunks(n):
        async with engine.begin() as conn:
            await _write(conn, part, then, service, last_person, last_ticket, last_number)
        if progress is not None:
            progress(len(part))
    async with engine.begin() as conn:
        # Numbers continue after the history, as they would have (the migrations write
        # every kind's counter row).
        await conn.execute(
            update(_table(TicketCounter))
            .where(TicketCounter.kind == TicketKind.INCIDENT)
            .values(last=last_number + n)
        )
        if conn.dialect.name == "postgresql":
            # The ids above were given, so the tables' sequences still start at the seed's.
            for table in ("people", "tickets"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
            await conn.execute(
                select(func.setval(ticket_sequence(TicketKind.INCIDENT), last_number + n))
            )
    if engine.dialect.name == "postgresql":
        # A desk that has run for a year has its statistics; autovacuum would take a while.
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))


async def _write(
    conn: Any,
    part: range,
    then: Any,
    service: int | None,
    last_person: int,
    last_ticket: int,
    last_number: int,
) -> None:
    # Named by the person's id, so a second fill adds visitors of its own.
    names = {i: f"past-{last_person + 1 + i}" for i in part}
    refs = {i: f"{TicketKind.INCIDENT.prefix}-{last_number + 1 + i}" for i in part}
    people = [
        {
            "id": last_person + 1 + i,
            "name": f"Past visitor {i}",
            "kind": PersonKind.CONTACT,
            "created_at": then,
        }
        for i in part
    ]
    await conn.execute(insert(_table(Person)), people)
    await conn.execute(
        insert(_table(ChannelIdentity)),
        [
            {
                "person_id": last_person + 1 + i,
                "platform": "webchat",
                "external_id": names[i],
                "last_address": {"channel": "webchat", "conversation": names[i]},
                "created_at": then,
                "last_seen_at": then,
            }
            for i in part
        ],
    )
    await conn.execute(
        insert(_table(Ticket)),
        [
            {
                "id": last_ticket + 1 + i,
                "kind": TicketKind.INCIDENT,
                "number": last_number + 1 + i,
                "ref": refs[i],
                "title": f"Past report {i}",
                "status": Status.CLOSED,
                "requester_id": last_person + 1 + i,
                "service_id": service,
                "origin": {"channel": "webchat", "conversation": names[i]},
                "created_at": then,
                "updated_at": then,
                "resolved_at": then,
                "closed_at": then,
            }
            for i in part
        ],
    )
    await conn.execute(
        insert(_table(TicketEvent)),
        [
            {
                "ticket_id": last_ticket + 1 + i,
                "action": "created",
                "channel": "webchat",
                "at": then,
            }
            for i in part
        ],
    )
    await conn.execute(
        insert(_table(InboxEvent)),
        [
            {
                "platform": "webchat",
                "event_id": f"{names[i]}:0",
                "conversation_key": f"webchat:{names[i]}",
                "payload": {},
                "status": InboxStatus.DONE,
                "received_at": then,
                "processed_at": then,
            }
            for i in part
        ],
    )
    await conn.execute(
        insert(_table(OutboxMessage)),
        [
            {
                "platform": "webchat",
                "conversation_key": f"webchat:{names[i]}",
                "address": {"channel": "webchat", "conversation": names[i]},
                "reply": {"text": "Logged."},
                "ticket_ref": refs[i],
                "status": OutboxStatus.SENT,
                "attempts": 1,
                "next_attempt_at": then,
                "created_at": then,
                "sent_at": then,
            }
            for i in part
            for _ in range(2)
        ],
    )
    offers = [
        {
            "cluster": f"past-{last_ticket + 1 + i}",
            "service_id": service,
            "incident_ids": [last_ticket + 1 + i],
            "offered_at": then,
        }
        for i in part
        if i % 20 == 0
    ]
    if offers:
        await conn.execute(insert(_table(RecurrenceOffer)), offers)
