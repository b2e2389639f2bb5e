"""The continual improvement register: ideas from anyone, moving through their stages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.models import Base, Group, Person
from store.types import utcnow


class Stage(StrEnum):
    """Where an improvement stands, in the order it normally moves."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REVIEWED = "reviewed"
    DECLINED = "declined"


class Improvement(Base):
    """One idea: what, for which service, the benefit hoped for, what motivated it."""

    __tablename__ = "improvements"
    __table_args__ = (
        Index("ix_improvements_stage", "stage", "id"),
        Index("ix_improvements_source_key", "source_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    service: Mapped[str | None] = mapped_column(String(120), default=None)
    benefit: Mapped[str] = mapped_column(Text, default="")
    ticket_ref: Mapped[str | None] = mapped_column(String(24), default=None)
    stage: Mapped[str] = mapped_column(String(16), default=Stage.PROPOSED.value)
    proposer_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    channel: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The measure: a figure of the desk report (`handlers.reports.KPIS`), then and wanted.
    kpi: Mapped[str | None] = mapped_column(String(60), default=None)
    kpi_baseline: Mapped[float | None] = mapped_column(Float, default=None)
    kpi_target: Mapped[float | None] = mapped_column(Float, default=None)
    # What a candidate the bot proposed was about, so it is never proposed twice.
    source_key: Mapped[str | None] = mapped_column(String(120), default=None)

    proposer: Mapped[Person | None] = relationship(lazy="joined")

    @property
    def ref(self) -> str:
        """The reference people quote, as `IDEA-7`."""
        return f"IDEA-{self.id}"


class ImprovementRepository:
    """The register, newest first."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self,
        *,
        title: str,
        proposer: Person | None,
        channel: str,
        detail: str = "",
        service: str | None = None,
        ticket_ref: str | None = None,
        benefit: str = "",
        source_key: str | None = None,
    ) -> Improvement:
        """Enter a new idea at the proposed stage; long texts are cut to what the columns hold."""
        row = Improvement(
            title=title[:300],
            detail=detail[:4000],
            service=service,
            ticket_ref=ticket_ref,
            benefit=benefit[:4000],
            source_key=source_key,
            proposer_id=proposer.id if proposer else None,
            channel=channel[:32],
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, improvement_id: int) -> Improvement | None:
        """One idea by its number, or None."""
        return await self.session.get(Improvement, improvement_id)

    async def listing(self, limit: int = 200) -> list[Improvement]:
        """The register for display: the latest `limit` ideas, newest first, in every stage."""
        stmt = select(Improvement).order_by(Improvement.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    async def known_sources(self) -> set[str]:
        """What the bot has proposed before, in any stage: never proposed again."""
        stmt = select(Improvement.source_key).where(Improvement.source_key.is_not(None))
        return {str(k) for k in await self.session.scalars(stmt)}

    async def desk_leads(self) -> list[int]:
        """The people who lead a group: who hears the bot's weekly suggestions."""
        stmt = select(Group.lead_id).where(Group.lead_id.is_not(None)).distinct()
        return sorted(int(i) for i in await self.session.scalars(stmt) if i is not None)
