"""Agents' work lists, and the people of the directory a notification can reach.

A work list is what is assigned to a person, or the unassigned tickets of their groups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import Priority, Status
from store.models import Group, GroupMember, Person, Ticket
from store.recipients import Channel, channels
from store.repositories import OPEN_STATUSES

WORKABLE = tuple(s for s in OPEN_STATUSES if s is not Status.AWAITING_APPROVAL)
"""Open statuses an agent can work on (a change awaiting approval waits for the approvers)."""


def _urgency_order() -> list[Any]:
    """Priority first (P1 first, unprioritised last), then the resolution due time, then age."""
    rank = case(
        {p: i for i, p in enumerate(Priority)},
        value=Ticket.priority,
        else_=len(Priority),
    )
    return [rank, Ticket.resolve_due_at.is_(None), Ticket.resolve_due_at, Ticket.id]


class QueueRepository:
    """The agent's day in chat: their tickets, their groups' backlog, whom to tell."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def assigned_to(self, person_id: int, *, limit: int = 20) -> list[Ticket]:
        """The person's tickets still to work on, most urgent first."""
        stmt = (
            select(Ticket)
            .where(Ticket.assignee_id == person_id, Ticket.status.in_(WORKABLE))
            .order_by(*_urgency_order())
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def unassigned_for(self, person_id: int, *, limit: int = 20) -> list[Ticket]:
        """Open tickets of the person's groups that nobody has taken."""
        groups = select(GroupMember.group_id).where(GroupMember.person_id == person_id)
        stmt = (
            select(Ticket)
            .where(
                Ticket.assignee_id.is_(None),
                Ticket.group_id.in_(groups),
                Ticket.status.in_(WORKABLE),
            )
            .order_by(*_urgency_order())
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def group_names(self, person_id: int) -> list[str]:
        """The names of the person's groups, alphabetically."""
        stmt = (
            select(Group.name)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.person_id == person_id)
            .order_by(Group.name)
        )
        return list(await self.session.scalars(stmt))

    async def identities(self, person_id: int) -> list[Channel]:
        """The person's verified channel accounts, most recently used first.

        Columns only, kept for the unit of work while it leaves the person alone
        (`store.recipients`): a notice to someone who never wrote asks for every new ticket.
        """
        return [c for c in await channels(self.session, person_id) if c.verified]

    async def person_named(self, name: str) -> Person | None:
        """An active person by email, full name or first name (case-insensitive), if unique."""
        wanted = name.strip().lower()
        if not wanted:
            return None
        people = list(await self.session.scalars(select(Person).where(Person.active.is_(True))))
        for key in (_email, _full_name, _first_name, _mailbox):
            found = [p for p in people if key(p) == wanted]
            if found:
                return found[0] if len(found) == 1 else None
        return None


def _email(p: Person) -> str:
    return (p.email or "").lower()


def _full_name(p: Person) -> str:
    return p.name.lower()


def _first_name(p: Person) -> str:
    return (p.name.split() or [""])[0].lower()


def _mailbox(p: Person) -> str:
    return _email(p).split("@")[0]
