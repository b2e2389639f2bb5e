"""Problems and known errors: the record behind a `PRB` ticket, its incidents, and offers.

A problem is a `Ticket` of kind `problem`; `ProblemRecord` holds its stage, root cause,
workaround and the words that recognise its symptoms. `ProblemIncident` links incidents to
it. `RecurrenceOffer` remembers each cluster of recurring incidents already offered to an
owner group as a problem, so a cluster is offered once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    bindparam,
    cast,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.config_memo import ConfigMemo
from store.enums import Status, TicketKind
from store.hotpath import CoreInsert, insert_new_returning_id, reads
from store.models import Base, GroupMember, Person, Ticket, enum_column
from store.recipients import kept
from store.types import utcnow


class ProblemStage(StrEnum):
    """new → investigating → known error → resolved → closed."""

    NEW = "new"
    INVESTIGATING = "investigating"
    KNOWN_ERROR = "known_error"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """The stage as people read it (`known error`, not `known_error`)."""
        return self.value.replace("_", " ")


class ProblemRecord(Base):
    """What is known about a problem: stage, root cause, workaround, symptom words."""

    __tablename__ = "problem_records"
    __table_args__ = (Index("ix_problem_records_stage", "stage"),)

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    stage: Mapped[ProblemStage] = mapped_column(
        enum_column(ProblemStage, 16), default=ProblemStage.NEW
    )
    root_cause: Mapped[str] = mapped_column(Text, default="")
    workaround: Mapped[str] = mapped_column(Text, default="")
    symptoms: Mapped[list[Any]] = mapped_column(default=list)
    known_error_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProblemIncident(Base):
    """An incident linked to a problem, and how it came to be linked."""

    __tablename__ = "problem_incidents"
    __table_args__ = (Index("ix_problem_incidents_incident", "incident_id"),)

    problem_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    how: Mapped[str] = mapped_column(String(16), default="agent")
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecurrenceOffer(Base):
    """A cluster of recurring incidents offered to an owner group as a problem."""

    __tablename__ = "recurrence_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    cluster: Mapped[str] = mapped_column(String(200), unique=True)
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), default=None
    )
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("groups.id", ondelete="SET NULL"), default=None
    )
    incident_ids: Mapped[list[Any]] = mapped_column(default=list)
    problem_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), default=None
    )
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)


_OFFER_INSERT = CoreInsert(RecurrenceOffer)
OPEN_INCIDENT = (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD)


class ProblemRepository:
    """Problem records, their incidents and recurrence offers; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session)

    async def record(self, problem: Ticket) -> ProblemRecord:
        """The problem's record, created at stage new the first time it is asked for."""
        found = await self.session.get(ProblemRecord, problem.id)
        if found is None:
            found = ProblemRecord(ticket_id=problem.id, stage=ProblemStage.NEW)
            self.session.add(found)
            await self.session.flush()
        return found

    async def link(self, problem: Ticket, incident: Ticket, *, how: str = "agent") -> bool:
        """Link an incident to a problem; False when it was linked already."""
        if await self.session.get(ProblemIncident, (problem.id, incident.id)) is not None:
            return False
        self.session.add(ProblemIncident(problem_id=problem.id, incident_id=incident.id, how=how))
        await self.session.flush()
        return True

    async def incidents(self, problem: Ticket) -> list[Ticket]:
        """The incidents linked to a problem, oldest first."""
        stmt = (
            select(Ticket)
            .join(ProblemIncident, ProblemIncident.incident_id == Ticket.id)
            .where(ProblemIncident.problem_id == problem.id)
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def problems_of(self, incident: Ticket) -> list[Ticket]:
        """The problems an incident is linked to, oldest first."""
        stmt = (
            select(Ticket)
            .join(ProblemIncident, ProblemIncident.problem_id == Ticket.id)
            .where(ProblemIncident.incident_id == incident.id)
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def known_errors(self, service_id: int) -> list[tuple[Ticket, ProblemRecord]]:
        """Known errors on a service, newest first.

        Read once per unit of work while it changes no problem record (`store.config_memo`):
        every new incident on the service asks.
        """

        async def load() -> list[tuple[Ticket, ProblemRecord]]:
            rows = await self.session.execute(_KNOWN_ERRORS, {"service_id": service_id})
            return [(t, r) for t, r in rows.all()]

        sync = self.session.sync_session
        if any(
            isinstance(o, Ticket) and o.kind is TicketKind.PROBLEM for o in (*sync.new, *sync.dirty)
        ):
            self.memo.clear()  # a problem moved to another service, say
            return await load()
        return list(await self.memo.get(("known_errors", service_id), load))

    async def recent_incidents(self, service_id: int, since: datetime) -> list[Ticket]:
        """Open incidents on a service created since `since`, oldest first."""
        stmt = (
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.INCIDENT,
                Ticket.service_id == service_id,
                Ticket.created_at >= since,
                Ticket.status.in_(OPEN_INCIDENT),
            )
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))

    async def recurrence_candidates(
        self, service_id: int, since: datetime
    ) -> list[tuple[int, datetime, str | None, str | None, str]]:
        """Open incidents on a service since `since`, neither linked to a problem nor offered.

        Oldest first, columns only, `(id, created_at, title, description, ref)`, with the
        linked and offered ones left out by the database: this runs for every new incident,
        so it must not load (or query once per) every incident or offer of the day. The
        references come along so that an offer names its incidents without another query.
        """
        stmt = _recurrence_candidates(self.session.get_bind().dialect.name)
        rows = await self.session.execute(stmt, {"service_id": service_id, "since": since})
        return [(i, at, title, text, ref) for i, at, title, text, ref in rows]

    async def tickets(self, ids: Sequence[int]) -> list[Ticket]:
        """The tickets with these ids, by id."""
        if not ids:
            return []
        return list(await self.session.scalars(_TICKETS, {"ids": list(ids)}))

    async def refs(self, ids: Sequence[int]) -> list[str]:
        """The references of the tickets with these ids, by id, without loading the tickets."""
        if not ids:
            return []
        return list(await self.session.scalars(_REFS, {"ids": list(ids)}))

    async def offered(self, cluster: str) -> RecurrenceOffer | None:
        """The offer made for this cluster of incidents, or None: a cluster is offered once."""
        return (await self.session.scalars(_OFFERED, {"cluster": cluster})).first()

    async def offered_incidents(self, service_id: int) -> set[int]:
        """Incidents already part of an offer on this service."""
        stmt = select(RecurrenceOffer.incident_ids).where(RecurrenceOffer.service_id == service_id)
        return {int(i) for ids in await self.session.scalars(stmt) for i in ids}

    async def offer_by_id(self, offer_id: int) -> RecurrenceOffer | None:
        """One recurrence offer by its id, or None."""
        return await self.session.get(RecurrenceOffer, offer_id)

    async def members(self, group_id: int) -> list[int]:
        """The people of a group, by id."""
        return list(await self.session.scalars(_MEMBERS, {"group_id": group_id}))

    async def owners(self, group_id: int, lead_id: int | None) -> list[tuple[int, str | None]]:
        """`(id, language)` of a group's lead and members: the lead first, then by id.

        One statement, once per unit of work while it leaves them and the groups alone: a
        recurrence offer tells each of them in their own language.
        """

        async def load() -> tuple[tuple[int, str | None], ...]:
            rows = await self.session.execute(_OWNERS, {"group_id": group_id, "lead_id": lead_id})
            found = [(int(i), language) for i, language in rows]
            found.sort(key=lambda r: (r[0] != lead_id, r[0]))
            return tuple(found)

        # Kept for the unit of work (`store.recipients`): each offer in a batch tells them.
        found = await kept(
            self.session,
            ("owners", group_id, lead_id),
            load,
            lambda rows: (i for i, _ in rows),
            config=True,
        )
        return list(found)

    async def offer(
        self, cluster: str, *, service_id: int, group_id: int | None, incident_ids: Sequence[int]
    ) -> RecurrenceOffer | None:
        """Record that a cluster of incidents was offered to `group_id` as a problem.

        None when the cluster was offered already: a cluster is offered once, and the unique
        cluster answers that in the same statement (`ON CONFLICT DO NOTHING`), also for two
        workers offering it at the same moment. A new incident may make an offer, so it is
        one Core INSERT and the row comes back attached.
        """
        row = _OFFER_INSERT.values(
            {
                "cluster": cluster,
                "service_id": service_id,
                "group_id": group_id,
                "incident_ids": list(incident_ids),
            }
        )
        new_id = (
            await self.session.execute(
                insert_new_returning_id(self.session, _OFFER_INSERT.table, "cluster"), row
            )
        ).scalar()
        if new_id is None:
            return None
        offer: RecurrenceOffer = _OFFER_INSERT.attach(self.session, int(new_id), row)
        return offer

    async def listed(self, stage: ProblemStage | None = None) -> list[tuple[Ticket, ProblemRecord]]:
        """Every problem with its record, oldest first; only those at `stage` when given."""
        stmt = (
            select(Ticket, ProblemRecord)
            .join(ProblemRecord, ProblemRecord.ticket_id == Ticket.id)
            .order_by(Ticket.id)
        )
        if stage is not None:
            stmt = stmt.where(ProblemRecord.stage == stage)
        return [(t, r) for t, r in (await self.session.execute(stmt)).all()]

    async def count_linked(self, problem: Ticket) -> int:
        """How many incidents are linked to the problem."""
        stmt = select(func.count()).where(ProblemIncident.problem_id == problem.id)
        return int((await self.session.execute(stmt)).scalar_one())


_TICKETS = select(Ticket).where(Ticket.id.in_(bindparam("ids", expanding=True))).order_by(Ticket.id)
_REFS = (
    select(Ticket.ref).where(Ticket.id.in_(bindparam("ids", expanding=True))).order_by(Ticket.id)
)
_OFFERED = select(RecurrenceOffer).where(RecurrenceOffer.cluster == bindparam("cluster"))
_MEMBERS = select(GroupMember.person_id).where(GroupMember.group_id == bindparam("group_id"))
_OWNERS = (
    select(Person.id, Person.language)
    .where(
        or_(
            Person.id.in_(
                select(GroupMember.person_id).where(GroupMember.group_id == bindparam("group_id"))
            ),
            Person.id == bindparam("lead_id"),
        )
    )
    .execution_options(**reads("people", "group_members"))
)


_KNOWN_ERRORS = (
    select(Ticket, ProblemRecord)
    .join(ProblemRecord, ProblemRecord.ticket_id == Ticket.id)
    .where(
        Ticket.kind == TicketKind.PROBLEM,
        Ticket.service_id == bindparam("service_id"),
        ProblemRecord.stage == ProblemStage.KNOWN_ERROR,
    )
    .order_by(Ticket.id.desc())
    # With the ticket's joined requester, assignee, group and service.
    .execution_options(**reads("tickets", "problem_records", "people", "groups", "services"))
)
Candidates = Select[int, datetime, str, str | None, str]
_RECURRENCE: dict[str, Candidates] = {}


def _recurrence_candidates(dialect: str) -> Candidates:
    """The recurrence check's statement for a dialect, built once: it runs for every incident."""
    found = _RECURRENCE.get(dialect)
    if found is not None:
        return found
    service_id: BindParameter[int] = bindparam("service_id")
    since: BindParameter[datetime] = bindparam("since")
    linked = (
        select(ProblemIncident.incident_id).where(ProblemIncident.incident_id == Ticket.id).exists()
    )
    if dialect == "sqlite":
        ids = func.json_each(RecurrenceOffer.incident_ids).table_valued("value")
    else:
        ids = func.jsonb_array_elements_text(RecurrenceOffer.incident_ids).table_valued("value")
    # An offer is made after its incidents were created, so only offers since `since` can
    # hold a candidate.
    offered = (
        select(cast(ids.c.value, Integer))
        .select_from(RecurrenceOffer)
        .join(ids, true())
        .where(RecurrenceOffer.service_id == service_id, RecurrenceOffer.offered_at >= since)
    )
    stmt = (
        select(Ticket.id, Ticket.created_at, Ticket.title, Ticket.description, Ticket.ref)
        .where(
            Ticket.kind == TicketKind.INCIDENT,
            Ticket.service_id == service_id,
            Ticket.created_at >= since,
            Ticket.status.in_(OPEN_INCIDENT),
            ~linked,
            Ticket.id.not_in(offered),
        )
        .order_by(Ticket.id)
        .execution_options(**reads("tickets", "problem_incidents", "recurrence_offers"))
    )
    _RECURRENCE[dialect] = stmt
    return stmt
