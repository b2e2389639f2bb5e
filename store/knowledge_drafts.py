"""Knowledge drafts: an article an agent saved from a resolved ticket, before it is published.

A draft is not searched and never offered in place of a ticket: an answer written in the
heat of a resolution is read again before people find it. Publishing saves it as an article
through `KnowledgeRepository.save` (versions, index) and marks the draft published.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, TicketEvent
from store.types import utcnow

_SLUG = re.compile(r"[^a-z0-9]+")


class KnowledgeDraft(Base):
    """An article in waiting: what it will say, the ticket it came from, who wrote it."""

    __tablename__ = "knowledge_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    services: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(8), default="en")
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), default=None
    )
    ticket_ref: Mapped[str | None] = mapped_column(String(24), default=None)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)


def slug_for(ref: str, title: str) -> str:
    """`inc-12-printer-keeps-jamming`: the ticket's reference, then the title's words."""
    words = _SLUG.sub("-", f"{ref} {title}".casefold()).strip("-")
    return words[:80].rstrip("-") or ref.casefold()


class KnowledgeDraftRepository:
    """Drafts saved from tickets, and the resolution they are written from."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, draft: KnowledgeDraft) -> KnowledgeDraft:
        """Save a new draft; a slug already taken breaks the unique key."""
        self.session.add(draft)
        await self.session.flush()
        return draft

    async def for_ticket(self, ticket_id: int) -> KnowledgeDraft | None:
        """The latest draft written from this ticket, or None."""
        stmt = select(KnowledgeDraft).where(KnowledgeDraft.ticket_id == ticket_id)
        return (await self.session.scalars(stmt.order_by(KnowledgeDraft.id.desc()))).first()

    async def by_slug(self, slug: str) -> KnowledgeDraft | None:
        """A draft by its slug, compared case-insensitively."""
        stmt = select(KnowledgeDraft).where(func.lower(KnowledgeDraft.slug) == slug.casefold())
        return (await self.session.scalars(stmt)).first()

    async def unpublished(self) -> list[KnowledgeDraft]:
        """The drafts still waiting to be read again and published, oldest first."""
        stmt = select(KnowledgeDraft).where(KnowledgeDraft.published_at.is_(None))
        return list(await self.session.scalars(stmt.order_by(KnowledgeDraft.id)))

    async def last_resolved_by(self, person_id: int) -> int | None:
        """The ticket this person resolved last (its id), from the tickets' events."""
        stmt = (
            select(TicketEvent.ticket_id)
            .where(TicketEvent.actor_id == person_id, TicketEvent.action == "resolved")
            .order_by(TicketEvent.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()
