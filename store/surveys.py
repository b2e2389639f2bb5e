"""Satisfaction surveys: asked once per resolved ticket, answered 1 to 5 with a comment.

Reports read the answers with `satisfaction(session, since=..., until=...)`: one row per
answered survey with the ticket, the group and agent it was with, and the channel it was
asked on. `SurveyRepository` is what the handlers and the watcher use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Status
from store.models import Group, Person, SurveyAnswer, Ticket


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """One answered survey as a report reads it."""

    ticket_ref: str
    rating: int
    comment: str
    group: str | None
    agent: str | None
    channel: str
    asked_at: datetime
    answered_at: datetime


async def satisfaction(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    group: str | None = None,
) -> list[Satisfaction]:
    """Answered surveys, oldest answer first, in a period and for a group if given.

    `since`/`until` bound the answer time (inclusive, exclusive) and `group` keeps one group's
    (by name, case-insensitive).

    Unanswered surveys are left out: a report's response rate is the answered count over
    `SurveyRepository.asked_count`.
    """
    stmt = (
        select(SurveyAnswer, Ticket.ref, Group.name, Person.name)
        .join(Ticket, Ticket.id == SurveyAnswer.ticket_id)
        .outerjoin(Group, Group.id == SurveyAnswer.group_id)
        .outerjoin(Person, Person.id == SurveyAnswer.agent_id)
        .where(SurveyAnswer.answered_at.is_not(None), SurveyAnswer.rating.is_not(None))
    )
    if since is not None:
        stmt = stmt.where(SurveyAnswer.answered_at >= since)
    if until is not None:
        stmt = stmt.where(SurveyAnswer.answered_at < until)
    rows = (await session.execute(stmt.order_by(SurveyAnswer.answered_at))).all()
    found = [
        Satisfaction(
            ticket_ref=ref,
            rating=int(answer.rating or 0),
            comment=answer.comment,
            group=group_name,
            agent=agent,
            channel=answer.channel,
            asked_at=answer.asked_at,
            answered_at=answer.answered_at or answer.asked_at,
        )
        for answer, ref, group_name, agent in rows
    ]
    if group is not None:
        found = [s for s in found if (s.group or "").casefold() == group.casefold()]
    return found


class SurveyRepository:
    """Asking and answering surveys; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_ticket(self, ticket_id: int) -> SurveyAnswer | None:
        """The survey asked about this ticket, answered or not; None if it was never asked."""
        stmt = select(SurveyAnswer).where(SurveyAnswer.ticket_id == ticket_id)
        return (await self.session.scalars(stmt)).first()

    def asked(self, ticket: Ticket, channel: str, at: datetime) -> SurveyAnswer:
        """Record that the ticket's requester was asked (the unique ticket makes it once)."""
        row = SurveyAnswer(
            ticket_id=ticket.id,
            group_id=ticket.group_id,
            agent_id=ticket.assignee_id,
            channel=channel,
            asked_at=at,
        )
        self.session.add(row)
        return row

    async def unasked(self, resolved_since: datetime, *, limit: int = 100) -> Sequence[Ticket]:
        """Tickets resolved since `resolved_since` whose requester has not been asked yet.

        Resolved tickets are few (they close after a quiet period), and the status index
        finds them without reading the open or closed ones.
        """
        asked = exists().where(SurveyAnswer.ticket_id == Ticket.id)
        stmt = (
            select(Ticket)
            .where(
                Ticket.status == Status.RESOLVED,
                Ticket.resolved_at.is_not(None),
                Ticket.resolved_at >= resolved_since,
                ~asked,
            )
            .order_by(Ticket.resolved_at, Ticket.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def latest_for(self, requester_id: int) -> str | None:
        """The reference of the latest survey asked of this requester, answered or not."""
        stmt = (
            select(Ticket.ref)
            .join(SurveyAnswer, SurveyAnswer.ticket_id == Ticket.id)
            .where(Ticket.requester_id == requester_id)
            .order_by(SurveyAnswer.asked_at.desc(), SurveyAnswer.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def unanswered_for(self, requester_id: int, *, since: datetime) -> str | None:
        """The reference of the latest survey asked of this requester since `since`, unanswered.

        None when every survey asked since then has been answered.
        """
        stmt = (
            select(Ticket.ref)
            .join(SurveyAnswer, SurveyAnswer.ticket_id == Ticket.id)
            .where(
                Ticket.requester_id == requester_id,
                SurveyAnswer.rating.is_(None),
                SurveyAnswer.asked_at >= since,
            )
            .order_by(SurveyAnswer.asked_at.desc(), SurveyAnswer.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def asked_count(self, *, since: datetime | None = None) -> int:
        """How many surveys were asked (since `since`), answered or not: a response rate's base."""
        stmt = select(func.count(SurveyAnswer.id))
        if since is not None:
            stmt = stmt.where(SurveyAnswer.asked_at >= since)
        return int((await self.session.execute(stmt)).scalar_one())
