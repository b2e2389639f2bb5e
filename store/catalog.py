"""The service catalog: items people order, the answers of each order, and deflections.

An item's form is stored as the desk file gives it (a list of `{name, label, type, required,
choices}`); `handlers.rules.catalog_form` reads and checks it. A deflection is one offer of a
knowledge article in place of a ticket and what the person made of it, so reports can count
tickets that were never filed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import (
    Approval,
    Base,
    Group,
    GroupMember,
    KnowledgeArticle,
    Person,
    Ticket,
)
from store.types import utcnow


class CatalogItem(Base):
    """Something people can order: its form, who approves it, who fulfils it and how fast."""

    __tablename__ = "catalog_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    aliases: Mapped[list[Any]] = mapped_column(default=list)
    category: Mapped[str] = mapped_column(String(80), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[Any]] = mapped_column(default=list)
    # `none`, `manager` (the requester's manager in the directory) or `group`.
    approval: Mapped[str] = mapped_column(String(16), default="none")
    approval_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    fulfilment_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    fulfilment_target: Mapped[str | None] = mapped_column(String(24), default=None)
    # Who may order: empty lists mean everyone.
    roles: Mapped[list[Any]] = mapped_column(default=list)
    organisations: Mapped[list[Any]] = mapped_column(default=list)
    cost: Mapped[str | None] = mapped_column(String(60), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The approval chain, in order: `{by: manager|group|ci_owner, group_id, group, quorum,
    # field}` each. Empty means the single step of `approval` above (items stored before 0024).
    approvals: Mapped[list[Any]] = mapped_column(default=list)
    # Fulfilment tasks: `{name, group_id, group, automation}` each; empty means one hand-over
    # to the fulfilment group.
    tasks: Mapped[list[Any]] = mapped_column(default=list)
    tasks_parallel: Mapped[bool] = mapped_column(Boolean, default=False)
    # `{url}`: the webhook an automation task posts the request to.
    automation: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    approval_group: Mapped[Group | None] = relationship(
        foreign_keys=[approval_group_id], lazy="selectin"
    )
    fulfilment_group: Mapped[Group | None] = relationship(
        foreign_keys=[fulfilment_group_id], lazy="selectin"
    )


class CatalogRequest(Base):
    """The order behind a service request: the item, the form's answers, who must approve."""

    __tablename__ = "catalog_requests"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_items.id", ondelete="SET NULL"), default=None
    )
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    approval: Mapped[str] = mapped_column(String(16), default="none")
    approver_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    approval_group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    # The approval chain as resolved when the order was placed: `{by, label, approvers,
    # quorum}` each, `approvers` being person ids (the requester never among them).
    chain: Mapped[list[Any]] = mapped_column(default=list)
    step: Mapped[int] = mapped_column(default=0)

    item: Mapped[CatalogItem | None] = relationship(lazy="selectin")


class CatalogDecision(Base):
    """One approver's decision on one step of a request's approval chain."""

    __tablename__ = "catalog_decisions"
    __table_args__ = (UniqueConstraint("ticket_id", "step", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column()
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    decision: Mapped[str] = mapped_column(String(12))
    comment: Mapped[str] = mapped_column(Text, default="")
    channel: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class FulfilmentTask(Base):
    """One piece of the work behind an approved request, for one group (or an automation).

    `waiting` until its turn, then `open`; `done` or `failed` at the end (a failed task
    waits for an agent, who may complete it by hand).
    """

    __tablename__ = "fulfilment_tasks"
    __table_args__ = (UniqueConstraint("ticket_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(200))
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    automation: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    done_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    result: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    done_at: Mapped[datetime | None] = mapped_column(default=None)

    group: Mapped[Group | None] = relationship(lazy="selectin")


class Deflection(Base):
    """An article offered before a ticket: `deflected` (it helped) or `declined` (ticket filed)."""

    __tablename__ = "deflections"
    __table_args__ = (Index("ix_deflections_outcome_at", "outcome", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    intent: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="SET NULL"), default=None
    )
    outcome: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogRepository:
    """Catalog items, orders and deflections; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def items(self, *, active_only: bool = True) -> list[CatalogItem]:
        """Every item, by category and name."""
        stmt = select(CatalogItem).order_by(CatalogItem.category, CatalogItem.name)
        if active_only:
            stmt = stmt.where(CatalogItem.active.is_(True))
        return list(await self.session.scalars(stmt))

    async def named(self, name: str) -> CatalogItem | None:
        """An item by its name, compared case-insensitively."""
        stmt = select(CatalogItem).where(func.lower(CatalogItem.name) == name.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def find(self, name: str) -> CatalogItem | None:
        """An active item by name or alias (case-insensitive)."""
        wanted = name.strip().casefold()
        if not wanted:
            return None
        found = await self.named(wanted)
        if found is not None and found.active:
            return found
        for item in await self.items():
            if wanted in {str(a).casefold() for a in item.aliases or ()}:
                return item
        return None

    async def upsert(self, name: str, **fields: Any) -> tuple[CatalogItem, list[str]]:
        """Create or update an item by name; the fields that changed (`["created"]` if new)."""
        row = await self.named(name)
        if row is None:
            row = CatalogItem(name=name, **fields)
            self.session.add(row)
            await self.session.flush()
            return row, ["created"]
        changed = []
        for key, value in fields.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
                changed.append(key)
        return row, changed

    async def add_request(
        self,
        *,
        ticket_id: int,
        item: CatalogItem,
        answers: dict[str, str],
        approval: str,
        approver: Person | None,
        approval_group_id: int | None,
    ) -> CatalogRequest:
        """Record the order behind a new request ticket, with the approval it starts under."""
        row = CatalogRequest(
            ticket_id=ticket_id,
            item_id=item.id,
            answers=dict(answers),
            approval=approval,
            approver_id=approver.id if approver else None,
            approval_group_id=approval_group_id,
            created_at=utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def request_of(self, ticket_id: int) -> CatalogRequest | None:
        """The order behind a request ticket, or None for a ticket that is not one."""
        return await self.session.get(CatalogRequest, ticket_id)

    async def lock_request(self, ticket_id: int) -> CatalogRequest | None:
        """The request, locked until commit, so decisions and task completions on it take turns.

        Two approvals or two last tasks are never counted apart.

        The ticket is read again once the lock is held: whoever held it before may have
        changed it (its version), and a copy read earlier would fail to save.
        """
        row = await self.session.get(
            CatalogRequest, ticket_id, with_for_update=True, populate_existing=True
        )
        if row is not None:
            await self.session.get(Ticket, ticket_id, populate_existing=True)
        return row

    async def decide(
        self,
        *,
        ticket_id: int,
        step: int,
        person_id: int,
        decision: str,
        comment: str,
        channel: str,
    ) -> CatalogDecision:
        """Record one approver's decision on one step of the approval chain (one per person)."""
        row = CatalogDecision(
            ticket_id=ticket_id,
            step=step,
            person_id=person_id,
            decision=decision,
            comment=comment,
            channel=channel,
            at=utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def decisions(self, ticket_id: int, step: int | None = None) -> list[CatalogDecision]:
        """The decisions on a request (on one step), oldest first."""
        stmt = select(CatalogDecision).where(CatalogDecision.ticket_id == ticket_id)
        if step is not None:
            stmt = stmt.where(CatalogDecision.step == step)
        return list(await self.session.scalars(stmt.order_by(CatalogDecision.id)))

    async def add_task(
        self, *, ticket_id: int, position: int, name: str, group_id: int | None, automation: bool
    ) -> FulfilmentTask:
        """Add a fulfilment task at `position`, `waiting` until the request reaches it."""
        row = FulfilmentTask(
            ticket_id=ticket_id,
            position=position,
            name=name,
            group_id=group_id,
            automation=automation,
            status="waiting",
            result="",
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def tasks(self, ticket_id: int) -> list[FulfilmentTask]:
        """A request's tasks in their order."""
        stmt = (
            select(FulfilmentTask)
            .where(FulfilmentTask.ticket_id == ticket_id)
            .order_by(FulfilmentTask.position)
        )
        return list(await self.session.scalars(stmt))

    async def task(self, ticket_id: int, position: int) -> FulfilmentTask | None:
        """One task of a request, locked until commit so two completions of it take turns."""
        stmt = select(FulfilmentTask).where(
            FulfilmentTask.ticket_id == ticket_id, FulfilmentTask.position == position
        )
        return (await self.session.scalars(stmt.with_for_update())).first()

    async def has_approval(self, ticket_id: int, person_id: int) -> bool:
        """Whether the person has a row in `approvals` for the ticket (one per person)."""
        stmt = select(Approval.id).where(
            Approval.ticket_id == ticket_id, Approval.approver_id == person_id
        )
        return (await self.session.scalars(stmt)).first() is not None

    async def is_member(self, group_id: int, person_id: int) -> bool:
        """Whether the person belongs to the group."""
        stmt = select(GroupMember.person_id).where(
            GroupMember.group_id == group_id, GroupMember.person_id == person_id
        )
        return (await self.session.scalars(stmt)).first() is not None

    async def group_member_ids(self, group_id: int) -> list[int]:
        """The active people of a group (approvers of an item approved by a group)."""
        stmt = (
            select(Person.id)
            .join(GroupMember, GroupMember.person_id == Person.id)
            .where(GroupMember.group_id == group_id, Person.active.is_(True))
            .order_by(Person.id)
        )
        return list(await self.session.scalars(stmt))

    async def article_exists(self, article_id: int) -> bool:
        """Whether the article is still there: one offered may have been removed since."""
        return await self.session.get(KnowledgeArticle, article_id) is not None

    async def record_deflection(
        self,
        *,
        person_id: int | None,
        intent: str,
        article_id: int | None,
        outcome: str,
        channel: str,
    ) -> Deflection:
        """Record what a person did with an article offered in place of a ticket."""
        row = Deflection(
            person_id=person_id,
            intent=intent,
            article_id=article_id,
            outcome=outcome,
            channel=channel,
            at=utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def deflection_counts(
        self, *, since: datetime | None = None
    ) -> dict[tuple[str, str], int]:
        """How many offers ended each way, per intent: `{(intent, outcome): n}`."""
        stmt = select(Deflection.intent, Deflection.outcome, func.count()).group_by(
            Deflection.intent, Deflection.outcome
        )
        if since is not None:
            stmt = stmt.where(Deflection.at >= since)
        rows: Sequence[Any] = (await self.session.execute(stmt)).all()
        return {(str(i), str(o)): int(n) for i, o, n in rows}
