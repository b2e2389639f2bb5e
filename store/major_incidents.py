"""Major incidents: the declared record, its swarm channel, and the incidents that join it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import TicketKind
from store.models import ChannelIdentity, MajorIncident, Ticket, TicketLink
from store.repositories import OPEN_STATUSES


class MajorIncidentRepository:
    """Reads and writes of major incidents; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, major_id: int) -> MajorIncident | None:
        """One major incident record by its id, or None."""
        return await self.session.get(MajorIncident, major_id)

    async def for_ticket(self, ticket_id: int) -> MajorIncident | None:
        """The major incident declared on this ticket, or None if it was never declared one."""
        stmt = select(MajorIncident).where(MajorIncident.ticket_id == ticket_id)
        return (await self.session.scalars(stmt)).first()

    async def declare(
        self, ticket: Ticket, *, by_id: int | None, lead_id: int | None, at: datetime
    ) -> MajorIncident:
        """A new major incident record for `ticket` (the caller checked there is none)."""
        row = MajorIncident(
            ticket_id=ticket.id,
            ticket=ticket,
            declared_by_id=by_id,
            lead_id=lead_id,
            declared_at=at,
            updated_at=at,
            last_update="",
            updates=0,
            open=True,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def without_swarm(self, limit: int = 20) -> list[MajorIncident]:
        """Open major incidents whose swarm channel is not created yet, oldest first."""
        stmt = (
            select(MajorIncident)
            .where(MajorIncident.open.is_(True), MajorIncident.swarm_channel.is_(None))
            .order_by(MajorIncident.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def open_incidents_on(
        self, service_id: int, since: datetime, *, but: int
    ) -> list[Ticket]:
        """Open incidents on a service opened since `since`, other than ticket `but`."""
        stmt = (
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.INCIDENT,
                Ticket.service_id == service_id,
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.created_at >= since,
                Ticket.id != but,
            )
            .order_by(Ticket.id)
            .limit(500)
        )
        return list(await self.session.scalars(stmt))

    async def linked_reports(self, ticket_id: int) -> list[Ticket]:
        """Tickets linked to the major incident (reports that joined it), in order."""
        stmt = (
            select(Ticket)
            .join(TicketLink, TicketLink.ticket_id == Ticket.id)
            .where(TicketLink.linked_id == ticket_id)
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def slack_ids(self, person_ids: Sequence[int]) -> list[str]:
        """The Slack user ids of these people, where they have one."""
        if not person_ids:
            return []
        stmt = (
            select(ChannelIdentity.external_id)
            .where(
                ChannelIdentity.person_id.in_(list(person_ids)),
                ChannelIdentity.platform == "slack",
            )
            .order_by(ChannelIdentity.id)
        )
        return list(dict.fromkeys(await self.session.scalars(stmt)))

    def set_swarm(self, row: MajorIncident, channel: str, at: datetime) -> None:
        """Record the swarm channel created for a major incident."""
        row.swarm_channel = channel[:64]
        row.updated_at = at

    async def open_majors(self, limit: int = 2) -> list[MajorIncident]:
        """Open major incidents, newest first (callers ask for 2 to know if one is alone)."""
        stmt = (
            select(MajorIncident)
            .where(MajorIncident.open.is_(True))
            .order_by(MajorIncident.id.desc())
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))
