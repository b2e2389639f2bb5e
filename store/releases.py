"""Releases: a named window (`R-12`) that bundles changes deployed together.

A release's window must contain its changes' windows; its status is derived from theirs
(`handlers.rules.releases`) and stored so lists and the API can filter on it. A change
belongs to at most one release.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Person, Ticket, enum_column
from store.types import utcnow


class ReleaseStatus(StrEnum):
    """Where a release stands, following its changes."""

    PLANNED = "planned"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def label(self) -> str:
        """The status as people read it (`in progress`, not `in_progress`)."""
        return self.value.replace("_", " ")


class Release(Base):
    """A release: its name, window, who created it, and the status its changes give it."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()
    status: Mapped[ReleaseStatus] = mapped_column(
        enum_column(ReleaseStatus, 24), default=ReleaseStatus.PLANNED
    )
    requester_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    requester: Mapped[Person | None] = relationship(lazy="selectin")


class ReleaseChange(Base):
    """A change in a release; `ticket_id` is unique: one release per change."""

    __tablename__ = "release_changes"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, unique=True
    )


class ReleaseRepository:
    """Releases and their changes; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        name: str,
        title: str,
        starts_at: datetime,
        ends_at: datetime,
        requester: Person,
        now: datetime,
    ) -> Release:
        """Open a release, planned, with no changes in it yet."""
        row = Release(
            name=name,
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            requester_id=requester.id,
            status=ReleaseStatus.PLANNED,
            created_at=now,
            updated_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def by_name(self, name: str) -> Release | None:
        """A release by its name, compared case-insensitively."""
        stmt = select(Release).where(func.lower(Release.name) == name.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def next_name(self) -> str:
        """`R-n` after the highest id so far; a free name even when people chose their own."""
        top = await self.session.scalar(select(func.max(Release.id)))
        n = (top or 0) + 1
        while await self.by_name(f"R-{n}") is not None:
            n += 1
        return f"R-{n}"

    async def listed(self, limit: int = 50) -> list[Release]:
        """The latest `limit` releases, the latest window first."""
        stmt = select(Release).order_by(Release.starts_at.desc(), Release.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    async def changes(self, release: Release) -> list[Ticket]:
        """The release's changes, in reference order."""
        stmt = (
            select(Ticket)
            .join(ReleaseChange, ReleaseChange.ticket_id == Ticket.id)
            .where(ReleaseChange.release_id == release.id)
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def of_change(self, ticket_id: int) -> Release | None:
        """The release a change belongs to, or None: a change is in one release at most."""
        stmt = (
            select(Release)
            .join(ReleaseChange, ReleaseChange.release_id == Release.id)
            .where(ReleaseChange.ticket_id == ticket_id)
        )
        return (await self.session.scalars(stmt)).first()

    async def add(self, release: Release, tickets: Sequence[Ticket]) -> None:
        """Put changes in the release; a change already in a release breaks the unique key."""
        for t in tickets:
            self.session.add(ReleaseChange(release_id=release.id, ticket_id=t.id))
        await self.session.flush()

    async def remove(self, release: Release, ticket: Ticket) -> None:
        """Take a change out of the release; nothing happens if it was not in it."""
        await self.session.execute(
            delete(ReleaseChange).where(
                ReleaseChange.release_id == release.id, ReleaseChange.ticket_id == ticket.id
            )
        )
        await self.session.flush()
