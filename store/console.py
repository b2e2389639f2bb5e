"""What the agents' console reads: queues by group, a ticket's timeline, approvals waiting.

A queue page is one indexed query for a page of open tickets (unassigned first, then the
nearest service-level instant, then priority) and one grouped count per group; the ticket
page reads its events, the messages that caused them and the replies sent about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Priority, Role, Status, TicketKind
from store.models import (
    Approval,
    Group,
    GroupMember,
    InboxEvent,
    OutboxMessage,
    Person,
    PersonRole,
    Service,
    Ticket,
    TicketEvent,
)
from store.repositories import OPEN_STATUSES

UNASSIGNED = "none"
NO_GROUP = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueFilter:
    """Which open tickets a queue shows; None means any.

    `group_id` 0 is tickets with no group; `assignee` is a person id or `UNASSIGNED`.
    """

    group_id: int | None = None
    kind: TicketKind | None = None
    priority: Priority | None = None
    service_id: int | None = None
    channel: str | None = None
    assignee: int | str | None = None


@dataclass(frozen=True, slots=True)
class GroupLoad:
    """One group's queue at a glance."""

    group_id: int
    name: str
    open: int
    unassigned: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One line of a ticket's timeline: an event, a message received, or a reply sent."""

    at: datetime
    kind: str
    action: str
    who: str | None
    channel: str
    text: str
    detail: dict[str, Any]


def _where(f: QueueFilter) -> list[Any]:
    conds: list[Any] = [Ticket.status.in_(OPEN_STATUSES)]
    if f.group_id is not None:
        conds.append(
            Ticket.group_id.is_(None) if f.group_id == NO_GROUP else Ticket.group_id == f.group_id
        )
    if f.kind is not None:
        conds.append(Ticket.kind == f.kind)
    if f.priority is not None:
        conds.append(Ticket.priority == f.priority)
    if f.service_id is not None:
        conds.append(Ticket.service_id == f.service_id)
    if f.channel:
        conds.append(Ticket.origin["channel"].as_string() == f.channel)
    if f.assignee == UNASSIGNED:
        conds.append(Ticket.assignee_id.is_(None))
    elif isinstance(f.assignee, int):
        conds.append(Ticket.assignee_id == f.assignee)
    return conds


class ConsoleRepository:
    """Queues, timelines and the people and services the console's filters offer."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def queue(self, f: QueueFilter, *, limit: int = 100) -> list[Ticket]:
        """Open tickets matching `f`: unassigned first, then the nearest due time, priority."""
        due = func.coalesce(Ticket.response_due_at, Ticket.resolve_due_at)
        stmt = (
            select(Ticket)
            .where(*_where(f))
            .order_by(
                case((Ticket.assignee_id.is_(None), 0), else_=1),
                due.is_(None),
                due,
                Ticket.priority.is_(None),
                Ticket.priority,
                Ticket.id,
            )
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def count(self, f: QueueFilter) -> int:
        stmt = select(func.count()).select_from(Ticket).where(*_where(f))
        return int((await self.session.execute(stmt)).scalar_one())

    async def group_loads(self) -> list[GroupLoad]:
        """Open and unassigned tickets per group (tickets with no group as group 0)."""
        gid = func.coalesce(Ticket.group_id, NO_GROUP)
        stmt = (
            select(
                gid,
                func.count(),
                func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0)),
            )
            .where(Ticket.status.in_(OPEN_STATUSES))
            .group_by(gid)
        )
        counts = {int(g): (int(n), int(u or 0)) for g, n, u in await self.session.execute(stmt)}
        names = {g.id: g.name for g in await self.session.scalars(select(Group))}
        loads = [
            GroupLoad(g, names[g], *counts.get(g, (0, 0)))
            for g in sorted(names, key=lambda g: names[g].lower())
        ]
        if NO_GROUP in counts:
            loads.append(GroupLoad(NO_GROUP, "", *counts[NO_GROUP]))
        return loads

    async def groups_of(self, person_id: int) -> list[int]:
        stmt = select(GroupMember.group_id).where(GroupMember.person_id == person_id)
        return [int(g) for g in await self.session.scalars(stmt)]

    async def agents(self) -> list[Person]:
        """Active people who may be given tickets, by name."""
        stmt = (
            select(Person)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role.in_((Role.AGENT, Role.ADMIN)), Person.active.is_(True))
            .order_by(Person.name)
            .distinct()
        )
        return list(await self.session.scalars(stmt))

    async def services(self) -> list[tuple[int, str]]:
        stmt = select(Service.id, Service.name).order_by(Service.name)
        return [(int(i), str(n)) for i, n in await self.session.execute(stmt)]

    async def channels(self) -> list[str]:
        """The channels open tickets came in on."""
        channel = Ticket.origin["channel"].as_string()
        stmt = (
            select(channel)
            .where(Ticket.status.in_(OPEN_STATUSES), channel.is_not(None))
            .group_by(channel)
            .order_by(channel)
        )
        return [str(c) for c in await self.session.scalars(stmt) if c]

    async def timeline(self, ticket: Ticket) -> list[Entry]:
        """Everything about a ticket in time order: its events (with the message behind each,
        where a message caused it) and the replies and notices sent about it."""
        events = await self.session.execute(
            select(TicketEvent, InboxEvent.payload)
            .outerjoin(InboxEvent, InboxEvent.id == TicketEvent.inbox_id)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
        )
        entries: list[Entry] = []
        seen_inbox: set[int] = set()
        for ev, payload in events:
            said = ""
            if payload is not None and ev.inbox_id not in seen_inbox:
                seen_inbox.add(ev.inbox_id)
                said = str(payload.get("text") or "")
            detail = dict(ev.detail or {})
            entries.append(
                Entry(
                    at=ev.at,
                    kind="event",
                    action=ev.action,
                    who=ev.actor.name if ev.actor else None,
                    channel=ev.channel,
                    text=str(detail.pop("text", "") or said),
                    detail=detail,
                )
            )
        sent = await self.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.ticket_ref == ticket.ref)
            .order_by(OutboxMessage.id)
        )
        for row in sent:
            reply = row.reply or {}
            if reply.get("sensitive"):
                continue
            entries.append(
                Entry(
                    at=row.created_at,
                    kind="sent",
                    action=str(row.status.value if row.status else ""),
                    who=None,
                    channel=row.platform,
                    text=str(reply.get("text") or ""),
                    detail={},
                )
            )
        entries.sort(key=lambda e: e.at)
        return entries

    async def awaiting_decision(self, person_id: int, *, limit: int = 50) -> list[Ticket]:
        """Changes waiting for approval that this person did not request and has not decided."""
        decided = select(Approval.ticket_id).where(Approval.approver_id == person_id)
        stmt = (
            select(Ticket)
            .where(
                and_(
                    Ticket.kind == TicketKind.CHANGE,
                    Ticket.status == Status.AWAITING_APPROVAL,
                    Ticket.requester_id != person_id,
                    not_(Ticket.id.in_(decided)),
                )
            )
            .order_by(Ticket.planned_start.is_(None), Ticket.planned_start, Ticket.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))
