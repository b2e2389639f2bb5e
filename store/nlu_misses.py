"""What the model guessed when the bot could not act on it: the "fallback" half of the NLU.

The inbox keeps the intent the router served, which for a miss is only `clarify` or
`out_of_scope`. `NluMiss` keeps, for each such message, the intent the model leaned to and
its confidence, so that the desk can see which intents the bot most often fails to act on
(`fallback_rates`) and propose improving them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Index, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, InboxEvent
from store.types import utcnow


class NluMiss(Base):
    """One message the bot did not act on: what it did instead and what the model guessed."""

    __tablename__ = "nlu_misses"
    __table_args__ = (Index("ix_nlu_misses_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(32), default="")
    outcome: Mapped[str] = mapped_column(String(40))
    """What the router served instead: `clarify` or `out_of_scope`."""
    guessed: Mapped[str] = mapped_column(String(40))
    """The intent the model ranked first among those the bot can act on."""
    confidence: Mapped[float] = mapped_column(Float, default=0.0)


def record_miss(
    session: AsyncSession,
    *,
    at: datetime,
    channel: str,
    outcome: str,
    guessed: str,
    confidence: float,
) -> NluMiss:
    """Add a miss to the session (the caller's unit of work commits it with the reply)."""
    row = NluMiss(
        at=at,
        channel=channel[:32],
        outcome=outcome[:40],
        guessed=guessed[:40],
        confidence=float(confidence),
    )
    session.add(row)
    return row


@dataclass(frozen=True, slots=True)
class FallbackRate:
    """An intent the model guessed: how often it was served, how often the bot fell back."""

    intent: str
    served: int
    missed: int

    @property
    def rate(self) -> float:
        """Misses as a fraction (0-1) of the messages read as the intent; 0 when there were none."""
        total = self.served + self.missed
        return self.missed / total if total else 0.0


async def fallback_rates(
    session: AsyncSession, since: datetime, until: datetime, *, least: int = 3
) -> list[FallbackRate]:
    """Intents with at least `least` misses in the period, highest fallback rate first.

    The rate is misses over all messages the model read as that intent: misses plus the
    messages the router served as it (the inbox's intent).
    """
    n = func.count(NluMiss.id)
    misses = {
        str(intent): int(count)
        for intent, count in await session.execute(
            select(NluMiss.guessed, n)
            .where(NluMiss.at >= since, NluMiss.at < until)
            .group_by(NluMiss.guessed)
            .having(n >= least)
        )
    }
    if not misses:
        return []
    served = {
        str(intent): int(count)
        for intent, count in await session.execute(
            select(InboxEvent.intent, func.count(InboxEvent.id))
            .where(
                InboxEvent.intent.in_(list(misses)),
                InboxEvent.received_at >= since,
                InboxEvent.received_at < until,
            )
            .group_by(InboxEvent.intent)
        )
    }
    found = [FallbackRate(k, served.get(k, 0), v) for k, v in misses.items()]
    return sorted(found, key=lambda f: (-f.rate, -f.missed, f.intent))
