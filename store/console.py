"""What the agents' console reads: queues by group, a ticket's timeline, approvals waiting.

A queue page is one indexed query for a page of open tickets (unassigned first, then the
nearest service-level instant, then priority) and one grouped count per group; the ticket
page reads its events, the messages that caused them and the replies sent about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    String,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    literal,
    not_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, joinedload, load_only, mapped_column, raiseload

from store.enums import Priority, Role, Status, TicketKind
from store.models import (
    Approval,
    Base,
    Group,
    GroupMember,
    InboxEvent,
    MajorIncident,
    OutboxMessage,
    Person,
    PersonRole,
    Service,
    Ticket,
    TicketEvent,
    TicketLink,
)
from store.repositories import OPEN_STATUSES
from store.types import utcnow

UNASSIGNED = "none"
QUEUE_COLUMNS = (
    "id",
    "kind",
    "ref",
    "title",
    "status",
    "priority",
    "assignee_id",
    "group_id",
    "service_id",
    "origin",
    "created_at",
    "updated_at",
    "version",
    "sla_name",
    "response_warn_at",
    "response_due_at",
    "resolve_warn_at",
    "resolve_due_at",
    "responded_at",
    "resolved_at",
    "sla_paused_at",
)
"""What a queue line shows of a ticket (with its service-level standing)."""
NO_GROUP = 0
VIEWS_PER_PERSON = 50
"""How many saved views one person keeps."""


class SavedView(Base):
    """A person's named queue filter, kept as the query string of the queue page."""

    __tablename__ = "console_views"
    __table_args__ = (UniqueConstraint("person_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class Major:
    """A major incident as the console and the portal show it."""

    record: MajorIncident
    ticket: Ticket
    lead: str | None
    reports: list[Ticket]


class TooManyViewsError(Exception):
    """A person already keeps `VIEWS_PER_PERSON` views."""


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
        """Open tickets matching `f`: unassigned first, then the nearest due time, priority.

        The order is decided on `ix_tickets_queue` alone (ids only), then the page's rows
        are loaded by id, so the cost follows the page, not the size of the backlog.
        """
        due = func.coalesce(Ticket.response_due_at, Ticket.resolve_due_at)
        ranked = (
            select(Ticket.id)
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
        ids = list(await self.session.scalars(ranked))
        if not ids:
            return []
        rows = await self.session.scalars(
            select(Ticket)
            .where(Ticket.id.in_(ids))
            .options(
                load_only(*(getattr(Ticket, c) for c in QUEUE_COLUMNS)),
                raiseload(Ticket.requester),
                raiseload(Ticket.group),
                joinedload(Ticket.assignee).load_only(Person.name).raiseload(Person.roles),
                joinedload(Ticket.service).load_only(Service.name),
            )
        )
        by_id = {t.id: t for t in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def count(self, f: QueueFilter) -> int:
        """How many open tickets match `f` in all, beyond the page `queue` returns."""
        stmt = select(func.count()).select_from(Ticket).where(*_where(f))
        return int((await self.session.execute(stmt)).scalar_one())

    async def group_loads(self) -> list[GroupLoad]:
        """Open and unassigned tickets per group; tickets with no group count as group 0.

        One grouped read of `ix_tickets_queue`, joined to the groups' names.
        """
        # One expression object in both places, so PostgreSQL sees the same parameter.
        gid = func.coalesce(Ticket.group_id, NO_GROUP)
        open_ = (
            select(
                gid.label("gid"),
                func.count().label("n"),
                func.sum(case((Ticket.assignee_id.is_(None), 1), else_=0)).label("u"),
            )
            .where(Ticket.status.in_(OPEN_STATUSES))
            .group_by(gid)
            .subquery()
        )
        named = select(Group.id, Group.name, open_.c.n, open_.c.u).outerjoin(
            open_, open_.c.gid == Group.id
        )
        orphans = select(open_.c.gid, literal(""), open_.c.n, open_.c.u).where(
            open_.c.gid == NO_GROUP
        )
        rows = await self.session.execute(union_all(named, orphans))
        loads = [GroupLoad(int(g), str(name), int(n or 0), int(u or 0)) for g, name, n, u in rows]
        return sorted(loads, key=lambda g: (g.group_id == NO_GROUP, g.name.lower()))

    async def groups_of(self, person_id: int) -> list[int]:
        """The ids of the groups the person belongs to."""
        stmt = select(GroupMember.group_id).where(GroupMember.person_id == person_id)
        return [int(g) for g in await self.session.scalars(stmt)]

    async def agents(self) -> list[tuple[int, str]]:
        """Active people who may be given tickets, as (id, name) by name."""
        stmt = (
            select(Person.id, Person.name)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(PersonRole.role.in_((Role.AGENT, Role.ADMIN)), Person.active.is_(True))
            .group_by(Person.id, Person.name)
            .order_by(Person.name)
        )
        return [(int(i), str(n)) for i, n in await self.session.execute(stmt)]

    async def services(self) -> list[tuple[int, str]]:
        """Every service as (id, name), by name, for the console's service filter."""
        stmt = select(Service.id, Service.name).order_by(Service.name)
        return [(int(i), str(n)) for i, n in await self.session.execute(stmt)]

    async def timeline(self, ticket: Ticket) -> list[Entry]:
        """Everything about a ticket in time order.

        Its events (with the message behind each, where a message caused it) and the replies
        and notices sent about it.
        """
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

    async def views(self, person_id: int) -> list[SavedView]:
        """A person's saved views, by name."""
        stmt = select(SavedView).where(SavedView.person_id == person_id).order_by(SavedView.name)
        return list(await self.session.scalars(stmt))

    async def save_view(self, person_id: int, name: str, query: str) -> SavedView:
        """Keep a view under `name`, replacing the person's view of that name."""
        found = await self.session.scalar(
            select(SavedView).where(SavedView.person_id == person_id, SavedView.name == name)
        )
        if found is not None:
            found.query = query
            return found
        held = await self.session.scalar(
            select(func.count()).select_from(SavedView).where(SavedView.person_id == person_id)
        )
        if (held or 0) >= VIEWS_PER_PERSON:
            raise TooManyViewsError(name)
        view = SavedView(person_id=person_id, name=name, query=query, created_at=utcnow())
        self.session.add(view)
        await self.session.flush()
        return view

    async def remove_view(self, person_id: int, view_id: int) -> bool:
        """Remove one of the person's views; False when they have no such view."""
        result = await self.session.execute(
            delete(SavedView).where(SavedView.id == view_id, SavedView.person_id == person_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def majors(self, *, closed_since: datetime, limit: int = 50) -> list[Major]:
        """Open major incidents and those closed since `closed_since`, newest first."""
        stmt = (
            select(MajorIncident)
            .where(MajorIncident.open.is_(True) | (MajorIncident.updated_at >= closed_since))
            .order_by(MajorIncident.open.desc(), MajorIncident.id.desc())
            .limit(limit)
        )
        rows = list(await self.session.scalars(stmt))
        if not rows:
            return []
        leads = {r.lead_id for r in rows if r.lead_id is not None}
        found = await self.session.execute(
            select(Person.id, Person.name).where(Person.id.in_(leads))
        )
        names: dict[int, str] = {row[0]: row[1] for row in found.all()}
        reports: dict[int, list[Ticket]] = {r.ticket_id: [] for r in rows}
        linked = await self.session.execute(
            select(TicketLink.linked_id, Ticket)
            .join(Ticket, TicketLink.ticket_id == Ticket.id)
            .where(TicketLink.linked_id.in_(list(reports)))
            .order_by(Ticket.id)
        )
        for major_ticket, report in linked.all():
            reports[major_ticket].append(report)
        return [
            Major(r, r.ticket, names.get(r.lead_id) if r.lead_id else None, reports[r.ticket_id])
            for r in rows
        ]
