"""Read-only queries behind the desk's figures: few columns, grouped in the database.

Each query reads one period's rows (`since <= at < until`) by indexed or narrow columns and
returns plain values, never ORM objects, so a report over months of tickets stays a handful
of statements on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import InboxStatus, Status, TicketKind
from store.models import (
    Approval,
    Group,
    InboxEvent,
    Service,
    SupplierHandoff,
    Ticket,
    TicketEvent,
)
from store.repositories import OPEN_STATUSES

COUNTED_ACTIONS = ("assigned", "reopened", "escalated")


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketRow:
    """The columns of one ticket the figures use, with counts of some of its events."""

    id: int
    kind: str
    status: Status
    created_at: datetime
    priority: str | None
    group: str | None
    channel: str | None
    service: str | None
    responded_at: datetime | None
    resolved_at: datetime | None
    has_sla: bool
    response_due_at: datetime | None
    resolve_due_at: datetime | None
    paused_at: datetime | None
    actions: dict[str, int]


@dataclass(frozen=True, slots=True)
class Cluster:
    """Incidents on one service in a period, with no problem ticket open or raised for it."""

    service: str
    incidents: int


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """Requests for one catalog item resolved in a period, and their mean hours to resolve."""

    item: str
    resolved: int
    hours_mean: float


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """A change opened in a period: when, and when its first decision came (None: not yet)."""

    created_at: datetime
    decided_at: datetime | None


def _ticket_columns() -> tuple[Any, ...]:
    return (
        Ticket.id,
        Ticket.kind,
        Ticket.status,
        Ticket.created_at,
        Ticket.priority,
        Group.name.label("group_name"),
        Ticket.origin["channel"].as_string().label("channel"),
        Service.name.label("service_name"),
        Ticket.responded_at,
        Ticket.resolved_at,
        Ticket.sla_name,
        Ticket.response_due_at,
        Ticket.resolve_due_at,
        Ticket.sla_paused_at,
    )


class ReportRepository:
    """The periods' tickets, messages and decisions as plain rows."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tickets(self, since: datetime, until: datetime) -> list[TicketRow]:
        """Tickets opened in the period, with how often each was assigned, reopened, escalated."""
        in_period = (Ticket.created_at >= since) & (Ticket.created_at < until)
        stmt = (
            select(*_ticket_columns())
            .outerjoin(Group, Group.id == Ticket.group_id)
            .outerjoin(Service, Service.id == Ticket.service_id)
            .where(in_period)
            .order_by(Ticket.id)
        )
        counts: dict[int, dict[str, int]] = defaultdict(dict)
        events = (
            select(TicketEvent.ticket_id, TicketEvent.action, func.count())
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(in_period, TicketEvent.action.in_(COUNTED_ACTIONS))
            .group_by(TicketEvent.ticket_id, TicketEvent.action)
        )
        for ticket_id, action, n in await self.session.execute(events):
            counts[ticket_id][action] = int(n)
        return [_row(r, counts.get(r.id, {})) for r in await self.session.execute(stmt)]

    async def open_tickets(self) -> list[TicketRow]:
        """Every ticket still open, whenever it was opened: the backlog."""
        stmt = (
            select(*_ticket_columns())
            .outerjoin(Group, Group.id == Ticket.group_id)
            .outerjoin(Service, Service.id == Ticket.service_id)
            .where(Ticket.status.in_(OPEN_STATUSES))
        )
        return [_row(r, {}) for r in await self.session.execute(stmt)]

    async def message_intents(self, since: datetime, until: datetime) -> dict[str, int]:
        """Chat messages handled in the period, by the intent the router served."""
        intent = func.coalesce(InboxEvent.intent, "unknown")
        stmt = (
            select(intent, func.count())
            .where(
                InboxEvent.received_at >= since,
                InboxEvent.received_at < until,
                InboxEvent.status == InboxStatus.DONE,
                InboxEvent.payload["kind"].as_string() == "message",
            )
            .group_by(intent)
        )
        return {str(k): int(n) for k, n in await self.session.execute(stmt)}

    async def change_decisions(self, since: datetime, until: datetime) -> list[ChangeRow]:
        """Changes opened in the period needing a decision, with their first decision's time."""
        stmt = (
            select(Ticket.created_at, func.min(Approval.at))
            .outerjoin(Approval, Approval.ticket_id == Ticket.id)
            .where(
                Ticket.kind == TicketKind.CHANGE,
                Ticket.created_at >= since,
                Ticket.created_at < until,
            )
            .group_by(Ticket.id, Ticket.created_at)
        )
        rows = await self.session.execute(stmt)
        return [ChangeRow(created, decided) for created, decided in rows]

    async def supplier_handoffs(
        self, since: datetime, until: datetime
    ) -> list[tuple[str, datetime | None, datetime | None]]:
        """Hand-offs made in the period: (supplier, resolution due, returned at)."""
        stmt = (
            select(
                SupplierHandoff.supplier, SupplierHandoff.resolve_due_at, SupplierHandoff.ended_at
            )
            .where(SupplierHandoff.handed_at >= since, SupplierHandoff.handed_at < until)
            .order_by(SupplierHandoff.id)
        )
        return [(str(n), due, ended) for n, due, ended in await self.session.execute(stmt)]

    async def opening_words(
        self, since: datetime, until: datetime, *, limit: int = 2000
    ) -> list[tuple[str, str | None, str]]:
        """(ref, channel, the requester's words) of tickets people opened in the period.

        Newest first; alerts are left out, they have no mood.
        """
        channel = Ticket.origin["channel"].as_string()
        stmt = (
            select(Ticket.ref, channel, Ticket.description, Ticket.title)
            .where(
                Ticket.created_at >= since,
                Ticket.created_at < until,
                Ticket.kind.in_([TicketKind.INCIDENT, TicketKind.REQUEST]),
                func.coalesce(channel, "") != "alerts",
            )
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
        )
        return [
            (ref, ch, (desc or title or "")[:1000])
            for ref, ch, desc, title in await self.session.execute(stmt)
        ]


def _row(r: Any, actions: dict[str, int]) -> TicketRow:
    return TicketRow(
        id=r.id,
        kind=str(r.kind),
        status=r.status,
        created_at=r.created_at,
        priority=r.priority.value if r.priority else None,
        group=r.group_name,
        channel=r.channel,
        service=r.service_name,
        responded_at=r.responded_at,
        resolved_at=r.resolved_at,
        has_sla=r.sla_name is not None,
        response_due_at=r.response_due_at,
        resolve_due_at=r.resolve_due_at,
        paused_at=r.sla_paused_at,
        actions=actions,
    )


async def incident_clusters(
    session: AsyncSession, since: datetime, until: datetime, *, least: int = 3
) -> list[Cluster]:
    """Services with at least `least` incidents in the period and no problem ticket for them.

    A problem counts when it is open or was raised in the period. Most incidents first.
    """
    problem_services = select(Ticket.service_id).where(
        Ticket.kind == TicketKind.PROBLEM,
        Ticket.service_id.is_not(None),
        Ticket.status.in_(OPEN_STATUSES) | (Ticket.created_at >= since),
    )
    n = func.count(Ticket.id)
    stmt = (
        select(Service.name, n)
        .join(Service, Service.id == Ticket.service_id)
        .where(
            Ticket.kind == TicketKind.INCIDENT,
            Ticket.created_at >= since,
            Ticket.created_at < until,
            Ticket.service_id.not_in(problem_services),
        )
        .group_by(Service.name)
        .having(n >= least)
        .order_by(n.desc(), Service.name)
    )
    return [Cluster(name, int(count)) for name, count in await session.execute(stmt)]


async def catalog_fulfilment(
    session: AsyncSession, since: datetime, until: datetime
) -> list[Fulfilment]:
    """Catalog items whose requests were resolved in the period, slowest first."""
    stmt = select(Ticket.catalog_item, Ticket.created_at, Ticket.resolved_at).where(
        Ticket.kind == TicketKind.REQUEST,
        Ticket.catalog_item.is_not(None),
        Ticket.resolved_at >= since,
        Ticket.resolved_at < until,
    )
    hours: dict[str, list[float]] = defaultdict(list)
    for item, created, resolved in await session.execute(stmt):
        if resolved is not None:
            hours[str(item)].append((resolved - created).total_seconds() / 3600.0)
    found = [Fulfilment(k, len(v), sum(v) / len(v)) for k, v in hours.items()]
    return sorted(found, key=lambda f: (-f.hours_mean, f.item))
