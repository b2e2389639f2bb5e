"""Problems and known errors: the record behind a `PRB` ticket, its incidents, and offers.

A problem is a `Ticket` of kind `problem`; `ProblemRecord` holds its stage, root cause,
workaround and the words that recognise its symptoms. `ProblemIncident` links incidents to
it. `RecurrenceOffer` remembers each cluster of recurring incidents already offered to an
owner group as a problem, so a cluster is offered once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    cast,
    event,
    func,
    inspect,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.util import identity_key

from store.config_memo import ConfigMemo
from store.direct import Direct
from store.enums import Status, TicketKind
from store.hotpath import (
    INSERTED,
    CoreInsert,
    reads,
    watches_writes,
)
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


@dataclass(frozen=True, slots=True)
class KnownError:
    """A known error as a new incident is matched against it: its problem and its words."""

    problem_id: int
    ref: str
    symptoms: list[Any]
    workaround: str


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
    # The recurrence check asks, for each new incident, what its service was offered lately.
    __table_args__ = (Index("ix_recurrence_offers_service", "service_id", "offered_at"),)

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

    async def known_errors(self, service_id: int) -> list[KnownError]:
        """Known errors on a service, newest first, as the values a new incident is matched on.

        Read once per unit of work while it changes no problem record (`store.config_memo`):
        every new incident on the service asks. Columns only: loading each problem as a
        ticket with its joined people, group and service cost more than the rest of the
        check, and only a match needs the ticket (`TicketRepository.get`).
        """

        async def load() -> list[KnownError]:
            rows = await _KNOWN_ERRORS.rows(self.session, {"service_id": service_id})
            return [KnownError(int(i), ref, list(s or []), w or "") for i, ref, s, w in rows]

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

        Read once per service and unit of work (`_Window`): later asks take the incidents
        this unit of work created since, and leave out those it linked or offered since.
        """
        sync = self.session.sync_session
        _note_pending(sync)
        windows = _windows(sync)
        window = windows.get(service_id)
        if window is not None and since >= window.since:
            found = window.current(sync, service_id, since)
            if found is not None:
                return found
        stmt = _recurrence_candidates(self.session.get_bind().dialect.name)
        rows = await stmt.rows(self.session, {"service_id": service_id, "since": since})
        found = [(i, at, title, text, ref) for i, at, title, text, ref in rows]
        # Kept only from a settled unit of work: the query's autoflush may have noted changes.
        if not sync.info.get(_UNSETTLED):
            _windows(sync)[service_id] = _Window(since, found)
        return found

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
            rows = await _OWNERS.rows(self.session, {"group_id": group_id, "lead_id": lead_id})
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
        new_id = await _OFFER_INSERT.insert_new(self.session, row, "cluster")
        if new_id is None:
            return None
        offer: RecurrenceOffer = _OFFER_INSERT.attach(self.session, new_id, row)
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
_OWNERS = Direct(
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


_KNOWN_ERRORS = Direct(
    select(Ticket.id, Ticket.ref, ProblemRecord.symptoms, ProblemRecord.workaround)
    .join(ProblemRecord, ProblemRecord.ticket_id == Ticket.id)
    .where(
        Ticket.kind == TicketKind.PROBLEM,
        Ticket.service_id == bindparam("service_id"),
        ProblemRecord.stage == ProblemStage.KNOWN_ERROR,
    )
    .order_by(Ticket.id.desc())
    .execution_options(**reads("tickets", "problem_records"))
)
_RECURRENCE: dict[str, Direct] = {}


def _recurrence_candidates(dialect: str) -> Direct:
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
    found = _RECURRENCE[dialect] = Direct(stmt)
    return found


Candidate = tuple[int, datetime, str | None, str | None, str]

_WINDOWS = "switchboard.recurrence_windows"
"""`session.info` key: each service's recurrence candidates as read in this transaction."""
_LEFT_OUT = "switchboard.recurrence_left_out"
"""`session.info` key: incidents this transaction linked to a problem or offered."""
_UNSETTLED = "switchboard.recurrence_unsettled"
"""`session.info` key: this transaction changed what a candidate window cannot follow."""
_TICKETS_INSERTED = "switchboard.tickets_inserted"
"""`session.info` key: ticket rows this transaction inserted by Core statements."""

_CANDIDATE_FIELDS = ("kind", "service_id", "created_at", "status", "title", "description", "ref")
_WATCHED = frozenset({"tickets", "problem_incidents", "recurrence_offers"})


class _Window:
    """A service's candidates as one query found them, followed through the transaction.

    It follows what a batch of reports does: new incidents (inserted by Core and attached,
    `store.hotpath.INSERTED`), incidents linked to a problem or offered. Anything else that
    could change the answer (a ticket's status, service or kind changed, a link removed, an
    offer changed, a ticket inserted another way) marks the transaction unsettled, and the
    query runs again.
    """

    def __init__(self, since: datetime, rows: list[Candidate]) -> None:
        self.since = since
        self.rows = {row[0]: row for row in rows}
        # Tickets this transaction inserted before the query are followed as well: the query
        # saw only those open at the time, and their status is read live.
        self.inserted = 0
        self.tickets_inserted = 0

    def current(self, session: Session, service_id: int, since: datetime) -> list[Candidate] | None:
        """The candidates now, or None when they must be read again."""
        if session.info.get(_UNSETTLED):
            return None
        inserted: list[Any] = session.info.get(INSERTED, [])
        new = [o for o in inserted[self.inserted :] if isinstance(o, Ticket)]
        if len(new) != int(session.info.get(_TICKETS_INSERTED, 0)) - self.tickets_inserted:
            return None  # a ticket row went in without its object to follow
        for ticket in new:
            values = ticket.__dict__
            if any(f not in values for f in _CANDIDATE_FIELDS):
                return None
            if values["kind"] is TicketKind.INCIDENT and values["service_id"] == service_id:
                self.rows[ticket.id] = (
                    ticket.id,
                    values["created_at"],
                    values["title"],
                    values["description"],
                    values["ref"],
                )
        self.inserted = len(inserted)
        self.tickets_inserted += len(new)
        left_out: set[int] = session.info.get(_LEFT_OUT, set())
        found = []
        for row in sorted(self.rows.values()):
            if row[0] in left_out or row[1] < since:
                continue
            loaded = session.identity_map.get(identity_key(Ticket, row[0]))
            if loaded is not None:
                status = loaded.__dict__.get("status")
                if status is None:
                    return None  # expired: what it holds now is unknown
                if status not in OPEN_INCIDENT:
                    continue
            found.append(row)
        return found


def _windows(session: Session) -> dict[int, _Window]:
    found: dict[int, _Window] | None = session.info.get(_WINDOWS)
    if found is None:
        found = session.info[_WINDOWS] = {}
    return found


def _left_out(session: Session, ids: Any) -> None:
    session.info.setdefault(_LEFT_OUT, set()).update(int(i) for i in ids)


def _note(session: Session, new: Any, dirty: Any, deleted: Any) -> None:
    """Follow the linked and offered incidents; mark changes a window cannot follow."""
    unsettled = False
    for obj in new:
        if isinstance(obj, ProblemIncident):
            if obj.incident_id is None:
                unsettled = True
            else:
                _left_out(session, (obj.incident_id,))
        elif isinstance(obj, RecurrenceOffer):
            _left_out(session, obj.incident_ids or ())
        elif isinstance(obj, Ticket):
            unsettled = True  # not inserted through the Core path the windows follow
    for obj in dirty:
        if isinstance(obj, ProblemIncident | RecurrenceOffer):
            unsettled = unsettled or session.is_modified(obj)
        elif isinstance(obj, Ticket):
            state = inspect(obj)
            # A window reads the status of what it holds live; not whether a ticket
            # outside it has joined it.
            moved = ("kind", "service_id") if _inserted_here(session, obj) else _MOVED
            unsettled = unsettled or any(state.attrs[f].history.has_changes() for f in moved)
    unsettled = unsettled or any(
        isinstance(o, ProblemIncident | RecurrenceOffer | Ticket) for o in deleted
    )
    if unsettled:
        session.info[_UNSETTLED] = True


_MOVED = ("kind", "service_id", "status")


def _inserted_here(session: Session, ticket: Ticket) -> bool:
    return any(o is ticket for o in session.info.get(INSERTED, ()))


def _note_pending(session: Session) -> None:
    if session.info.get(_WINDOWS):
        _note(session, session.new, session.dirty, session.deleted)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    _note(session, session.new, session.dirty, session.deleted)


@watches_writes
def _wrote(session: Session, table: str, is_insert: bool, listed: list[Mapping[str, Any]]) -> None:
    if table not in _WATCHED:
        return
    if is_insert and table == "tickets":
        session.info[_TICKETS_INSERTED] = session.info.get(_TICKETS_INSERTED, 0) + max(
            len(listed), 1
        )
    elif is_insert and table == "recurrence_offers" and listed:
        for row in listed:
            _left_out(session, row.get("incident_ids") or ())
    elif is_insert and table == "problem_incidents" and listed:
        _left_out(session, (row["incident_id"] for row in listed))
    else:
        session.info[_UNSETTLED] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    # Savepoints too (a window read inside a rolled-back one is not kept), but not the
    # subtransaction each flush runs in.
    if transaction.nested or transaction.parent is None:
        session.info.pop(_WINDOWS, None)
    if transaction.parent is None:
        for key in (_LEFT_OUT, _UNSETTLED, _TICKETS_INSERTED):
            session.info.pop(key, None)
