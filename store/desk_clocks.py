"""What the service-level watcher asks the desk: which tickets are due, and who takes them.

Which tickets have a warning or breach due (and when the next one is), which supplier due
times are still to report, which resolved tickets may close, and which urgent tickets nobody
has taken; and how the watcher claims a ticket so that two watchers never both act on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from store.enums import Priority, Status
from store.models import Group, SupplierHandoff, Ticket


class ServiceLevelQueries:
    """The watcher's questions, asked in the session of a unit of work."""

    session: AsyncSession

    async def due(self, until: datetime, *, limit: int = 100) -> Sequence[Ticket]:
        """Tickets whose next warning or breach is at or before `until`, earliest first.

        One range scan of `ix_tickets_sla_next_at`; paused and finished tickets carry no
        next instant and are never read.
        """
        stmt = (
            select(Ticket)
            .where(Ticket.sla_next_at.is_not(None), Ticket.sla_next_at <= until)
            .order_by(Ticket.sla_next_at, Ticket.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def due_keys(self, until: datetime, *, limit: int = 100) -> list[tuple[int, datetime]]:
        """`due` as (ticket id, `sla_next_at`) pairs only.

        What a watcher needs to then take each ticket in its own transaction, without loading
        the tickets twice.
        """
        stmt = (
            select(Ticket.id, Ticket.sla_next_at)
            .where(Ticket.sla_next_at.is_not(None), Ticket.sla_next_at <= until)
            .order_by(Ticket.sla_next_at, Ticket.id)
            .limit(limit)
        )
        return [(i, at) for i, at in (await self.session.execute(stmt)).all() if at is not None]

    async def load_tickets(self, ids: Sequence[int]) -> dict[int, Ticket]:
        """These tickets by id in one query, into this unit of work (the watcher's batch)."""
        if not ids:
            return {}
        stmt = select(Ticket).where(Ticket.id.in_(list(ids)))
        return {t.id: t for t in await self.session.scalars(stmt)}

    async def next_due_at(self) -> datetime | None:
        """The earliest instant to act on: a ticket's `sla_next_at` or a supplier's due time.

        One step into `ix_tickets_sla_next_at` and one into `ix_supplier_handoffs_next_at`.
        """
        # ORDER BY ... LIMIT 1 rather than min(): SQLite only turns a bare min() into one
        # index step, and a WHERE clause makes it scan the whole index instead.
        stmt = (
            select(Ticket.sla_next_at)
            .where(Ticket.sla_next_at.is_not(None))
            .order_by(Ticket.sla_next_at)
            .limit(1)
        )
        ours = (await self.session.execute(stmt)).scalar_one_or_none()
        theirs = await self.supplier_next_at()
        return min((t for t in (ours, theirs) if t is not None), default=None)

    async def supplier_next_at(self) -> datetime | None:
        """The earliest supplier due time still to report: one step into its index."""
        stmt = (
            select(SupplierHandoff.next_at)
            .where(SupplierHandoff.next_at.is_not(None))
            .order_by(SupplierHandoff.next_at)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def supplier_due(self, until: datetime, *, limit: int = 100) -> list[int]:
        """Tickets with a supplier due time at or before `until` still to report."""
        stmt = (
            select(SupplierHandoff.ticket_id)
            .where(SupplierHandoff.next_at.is_not(None), SupplierHandoff.next_at <= until)
            .order_by(SupplierHandoff.next_at, SupplierHandoff.id)
            .limit(limit)
        )
        return list(dict.fromkeys(await self.session.scalars(stmt)))

    async def due_handoffs(self, ticket_id: int, until: datetime) -> list[SupplierHandoff]:
        """The ticket's supplier hand-offs with a due time at or before `until`."""
        stmt = (
            select(SupplierHandoff)
            .where(
                SupplierHandoff.ticket_id == ticket_id,
                SupplierHandoff.next_at.is_not(None),
                SupplierHandoff.next_at <= until,
            )
            .order_by(SupplierHandoff.id)
        )
        return list(await self.session.scalars(stmt))

    async def resolved_before(
        self, until: datetime, *, after: tuple[datetime, int] | None = None, limit: int = 100
    ) -> Sequence[Ticket]:
        """Resolved, not yet closed tickets resolved at or before `until`, oldest first.

        `after` is the (resolved_at, id) of the last row of the previous page.
        """
        stmt = select(Ticket).where(
            Ticket.status == Status.RESOLVED,
            Ticket.resolved_at.is_not(None),
            Ticket.resolved_at <= until,
        )
        if after is not None:
            at, last_id = after
            stmt = stmt.where(
                (Ticket.resolved_at > at) | ((Ticket.resolved_at == at) & (Ticket.id > last_id))
            )
        stmt = stmt.order_by(Ticket.resolved_at, Ticket.id).limit(limit)
        return list(await self.session.scalars(stmt))

    async def oncall_groups(self) -> list[int]:
        """Ids of the groups that have an on-call rota (groups are few: read them all)."""
        rows = await self.session.execute(select(Group.id, Group.oncall))
        return [gid for gid, rota in rows.all() if rota]

    async def untaken(
        self, priorities: Iterable[Priority], groups: Iterable[int], *, limit: int = 100
    ) -> Sequence[Ticket]:
        """New tickets of these priorities and groups that nobody has taken yet (paging).

        Read through `ix_tickets_status_priority`: only new, urgent tickets are visited.
        """
        stmt = (
            select(Ticket)
            .where(
                Ticket.status == Status.NEW,
                Ticket.priority.in_(list(priorities)),
                Ticket.group_id.in_(list(groups)),
                Ticket.responded_at.is_(None),
            )
            .order_by(Ticket.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    def claim(self, ticket: Ticket) -> None:
        """Make the ticket's next flush an UPDATE checked against the version read.

        The watcher acts on a ticket without always changing a column (a page is only an
        event); this way two watchers in a handover cannot both act: the second one's
        update finds a newer version and its whole unit of work, notifications included,
        is rolled back.
        """
        flag_modified(ticket, "sla_next_at")
