"""Changes after approval: their plan (stage, outcome), the items they touch, the calendar.

A change is a `Ticket` of kind `change`; its window is the ticket's `planned_start` and
`planned_end`. `ChangePlan` carries what only a change has: where it is in its lifecycle
after approval, how it ended, and whether it needs a review. Standard changes (pre-approved
templates), freeze windows and change advisory boards come from the desk file.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.enums import Role, Status, TicketKind
from store.models import (
    Base,
    Group,
    GroupMember,
    Person,
    PersonRole,
    Service,
    Ticket,
    enum_column,
)
from store.types import utcnow


class ChangeStage(StrEnum):
    """Where a change is after its decision: planned, scheduled, being done, reviewed, closed."""

    PLANNED = "planned"
    SCHEDULED = "scheduled"
    IMPLEMENTING = "implementing"
    REVIEW = "review"
    CLOSED = "closed"


class ChangeOutcome(StrEnum):
    """How the implementation ended."""

    SUCCESSFUL = "successful"
    FAILED = "failed"
    BACKED_OUT = "backed_out"

    @property
    def label(self) -> str:
        """The outcome as people read it (`backed out`, not `backed_out`)."""
        return self.value.replace("_", " ")


class ChangePlan(Base):
    """A change's stage after approval, its outcome and the review it owes."""

    __tablename__ = "change_plans"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[ChangeStage] = mapped_column(
        enum_column(ChangeStage, 16), default=ChangeStage.PLANNED
    )
    outcome: Mapped[ChangeOutcome | None] = mapped_column(
        enum_column(ChangeOutcome, 16), default=None
    )
    standard: Mapped[str | None] = mapped_column(String(120), default=None)
    backout_plan: Mapped[str] = mapped_column(Text, default="")
    review_required: Mapped[bool] = mapped_column(Boolean, default=False)
    review_note: Mapped[str] = mapped_column(Text, default="")
    freeze_override: Mapped[str | None] = mapped_column(String(120), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeItem(Base):
    """A configuration item a change touches."""

    __tablename__ = "change_items"
    __table_args__ = (Index("ix_change_items_service", "service_id"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )


class StandardChange(Base):
    """A pre-approved change template (`standard_changes:` in the desk file)."""

    __tablename__ = "standard_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    services: Mapped[list[Any]] = mapped_column(default=list)
    duration: Mapped[str] = mapped_column(String(24), default="1h")
    backout_plan: Mapped[str] = mapped_column(Text, default="")


class FreezeWindow(Base):
    """A period in which no normal change may touch the listed items (`freeze_windows:`).

    `starts_at` and `ends_at` are UTC; `timezone` is the one the desk file wrote them in.
    """

    __tablename__ = "freeze_windows"
    __table_args__ = (Index("ix_freeze_windows_range", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    services: Mapped[list[Any]] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text, default="")


class ChangeBoard(Base):
    """A change advisory board (`change_boards:` in the desk file).

    The board is the group whose approvers decide normal changes to some services, and how
    many of them must agree.
    """

    __tablename__ = "change_boards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    services: Mapped[list[Any]] = mapped_column(default=list)
    quorum: Mapped[int] = mapped_column(default=1)


Index("ix_tickets_kind_planned", Ticket.kind, Ticket.planned_start, Ticket.planned_end)

OFF_CALENDAR = (Status.REJECTED, Status.CANCELLED)

Calendared = TypeVar("Calendared", StandardChange, FreezeWindow, ChangeBoard)


class ChangeRepository:
    """Plans, items and the calendar of changes; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def plan(self, ticket: Ticket) -> ChangePlan:
        """The change's plan, created at the planned stage the first time it is asked for."""
        found = await self.session.get(ChangePlan, ticket.id)
        if found is None:
            found = ChangePlan(ticket_id=ticket.id, stage=ChangeStage.PLANNED)
            self.session.add(found)
            await self.session.flush()
        return found

    async def plans(self, ticket_ids: Collection[int]) -> dict[int, ChangePlan]:
        """The plans of these changes by ticket id; a change never planned is absent."""
        if not ticket_ids:
            return {}
        stmt = select(ChangePlan).where(ChangePlan.ticket_id.in_(list(ticket_ids)))
        return {p.ticket_id: p for p in await self.session.scalars(stmt)}

    async def set_items(self, ticket: Ticket, items: Sequence[Service]) -> None:
        """The items the change touches become exactly `items`."""
        await self.session.execute(delete(ChangeItem).where(ChangeItem.ticket_id == ticket.id))
        for service_id in dict.fromkeys(s.id for s in items):
            self.session.add(ChangeItem(ticket_id=ticket.id, service_id=service_id))
        await self.session.flush()

    async def items(self, ticket_ids: Collection[int]) -> dict[int, list[tuple[int, str]]]:
        """(id, name) of the items each change touches; a change without any is absent."""
        if not ticket_ids:
            return {}
        stmt = (
            select(ChangeItem.ticket_id, Service.id, Service.name)
            .join(Service, Service.id == ChangeItem.service_id)
            .where(ChangeItem.ticket_id.in_(list(ticket_ids)))
            .order_by(Service.name)
        )
        out: dict[int, list[tuple[int, str]]] = {}
        for tid, sid, name in await self.session.execute(stmt):
            out.setdefault(tid, []).append((sid, name))
        return out

    async def scheduled_between(self, start: datetime, end: datetime) -> list[Ticket]:
        """Changes whose window overlaps [start, end), earliest first; refused ones left out."""
        stmt = (
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.CHANGE,
                Ticket.planned_start.is_not(None),
                Ticket.planned_end.is_not(None),
                Ticket.planned_start < end,
                Ticket.planned_end > start,
                Ticket.status.not_in(OFF_CALENDAR),
            )
            .order_by(Ticket.planned_start, Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def freezes_between(self, start: datetime, end: datetime) -> list[FreezeWindow]:
        """Freeze windows overlapping [start, end), earliest first."""
        stmt = (
            select(FreezeWindow)
            .where(FreezeWindow.starts_at < end, FreezeWindow.ends_at > start)
            .order_by(FreezeWindow.starts_at, FreezeWindow.name)
        )
        return list(await self.session.scalars(stmt))

    async def upsert(
        self, model: type[Calendared], name: str, **fields: Any
    ) -> tuple[Calendared, list[str]]:
        """Create or update a standard change or freeze by name; the fields that changed."""
        stmt = select(model).where(func.lower(model.name) == name.lower())
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            row = model(name=name, **fields)
            self.session.add(row)
            await self.session.flush()
            return row, ["created"]
        changed = [k for k, v in fields.items() if getattr(row, k) != v]
        for k in changed:
            setattr(row, k, fields[k])
        await self.session.flush()
        return row, changed

    async def standards(self) -> list[StandardChange]:
        """Every standard change template, by name."""
        return list(
            await self.session.scalars(select(StandardChange).order_by(StandardChange.name))
        )

    async def boards_for(self, names: Collection[str]) -> list[tuple[ChangeBoard, frozenset[int]]]:
        """The boards covering any of the services `names` (any case), with their approvers.

        Each board comes with the ids of its members who may approve: active, with the
        approver or admin role.
        """
        wanted = {n.casefold() for n in names}
        if not wanted:
            return []
        boards = [
            b
            for b in await self.session.scalars(select(ChangeBoard).order_by(ChangeBoard.name))
            if wanted & {str(s).casefold() for s in b.services}
        ]
        if not boards:
            return []
        stmt = (
            select(GroupMember.group_id, Person.id)
            .join(Person, Person.id == GroupMember.person_id)
            .join(PersonRole, PersonRole.person_id == Person.id)
            .where(
                GroupMember.group_id.in_({b.group_id for b in boards}),
                Person.active.is_(True),
                PersonRole.role.in_([Role.APPROVER, Role.ADMIN]),
            )
        )
        members: dict[int, set[int]] = {}
        for group_id, person_id in await self.session.execute(stmt):
            members.setdefault(group_id, set()).add(person_id)
        return [(b, frozenset(members.get(b.group_id, set()))) for b in boards]

    async def board_group(self, board: ChangeBoard) -> Group | None:
        """The group the board draws its approvers from."""
        return await self.session.get(Group, board.group_id)
