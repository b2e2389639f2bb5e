"""Article offers waiting for an answer, so an unanswered one can still be filed.

An offer ("Did this solve it?") lives in the conversation's dialogue state, which expires
silently. This row outlives it: it keeps what was first written and where, and is settled
once, by the person's Yes or No or, when neither came in time, by the scheduler filing the
ticket. Settling is one conditional update, so two workers never both act on an offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base
from store.types import utcnow


class DeflectionOffer(Base):
    """One article offered before a ticket, and how the offer ended."""

    __tablename__ = "deflection_offers"
    __table_args__ = (Index("ix_deflection_offers_open", "settled_at", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    intent: Mapped[str] = mapped_column(String(40))
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="SET NULL"), default=None
    )
    original: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The understanding of the message the offer answered (`Understanding.to_dict`)."""
    address: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Where the offer was made (`Address.to_dict`): an expired one is filed there."""
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    settled_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    ticket_ref: Mapped[str | None] = mapped_column(String(24), default=None)
    """The ticket filed when the offer expired unanswered."""


class DeflectionOfferRepository:
    """Open offers: made, settled once, and found when their answer is overdue."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        person_id: int,
        intent: str,
        article_id: int | None,
        original: dict[str, Any],
        address: dict[str, Any],
        now: datetime,
        expires_at: datetime,
    ) -> DeflectionOffer:
        """Record an offer just made, open until `expires_at`."""
        row = DeflectionOffer(
            person_id=person_id,
            intent=intent,
            article_id=article_id,
            original=original,
            address=address,
            offered_at=now,
            expires_at=expires_at,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, offer_id: int) -> DeflectionOffer | None:
        """The offer with this id, settled or not; None if it is gone with its person."""
        return await self.session.get(DeflectionOffer, offer_id)

    async def settle(self, offer_id: int, outcome: str, now: datetime) -> bool:
        """Mark an open offer settled; False when it was settled already (by anyone)."""
        result = await self.session.execute(
            update(DeflectionOffer)
            .where(DeflectionOffer.id == offer_id, DeflectionOffer.settled_at.is_(None))
            .values(settled_at=now, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def overdue(self, now: datetime, *, limit: int = 50) -> Sequence[int]:
        """Ids of open offers whose answer time is over, oldest first."""
        stmt = (
            select(DeflectionOffer.id)
            .where(DeflectionOffer.settled_at.is_(None), DeflectionOffer.expires_at <= now)
            .order_by(DeflectionOffer.expires_at, DeflectionOffer.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())
