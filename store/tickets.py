"""Tickets and their event log: created by Core INSERTs, events in one multi-row INSERT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    Insert,
    String,
    Table,
    bindparam,
    event,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from store.direct import Direct
from store.enums import Decision, Priority, Status, TicketKind
from store.hotpath import CoreInsert, queue_insert, reads, unsaved
from store.models import (
    Approval,
    Group,
    Person,
    Service,
    Ticket,
    TicketCounter,
    TicketEvent,
)
from store.types import utcnow

OPEN_STATUSES = (
    Status.NEW,
    Status.IN_PROGRESS,
    Status.ON_HOLD,
    Status.AWAITING_APPROVAL,
    Status.APPROVED,
)


def thread_key(channel: str, conversation: str, thread: object) -> str:
    """The key of a chat thread that tickets filed from it are found by (`origin_thread`).

    Migration 0033 writes the same key for older tickets from their stored origin.
    """
    return f"{channel}:{conversation}:{thread}"


def ticket_sequence(kind: TicketKind) -> str:
    """The PostgreSQL sequence that numbers tickets of a kind."""
    return f"ticket_number_{kind.value}"


_TICKET_INSERT = CoreInsert(Ticket)
_EVENT_INSERT = CoreInsert(TicketEvent)
_COUNTERS = cast(Table, TicketCounter.__table__)
_BUMP_COUNTER = Direct(
    update(_COUNTERS)
    .where(_COUNTERS.c.kind == bindparam("bump_kind"))
    .values(last=_COUNTERS.c.last + 1)
    .returning(_COUNTERS.c.last)
    .execution_options(**reads("ticket_counters"))
)
_SETTLE_COUNTER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.kind == bindparam("settle_kind"))
    .values(last=func.max(_COUNTERS.c.last, bindparam("given")))
)
_NEXTVAL = {kind: select(func.nextval(ticket_sequence(kind))) for kind in TicketKind}

_NUMBERS = "switchboard.ticket_numbers"
"""`session.info` key (SQLite): per kind, the last number this transaction handed out and the
counter's value as this transaction's one `UPDATE` left it; the rest is written at commit."""


@event.listens_for(Session, "before_commit")
def _settle_numbers(session: Session) -> None:
    # One UPDATE per kind for every number handed out after the first: the write lock was
    # held throughout, so no other transaction can have drawn from the counter meanwhile.
    # `max` keeps it right even if a savepoint rolled the first UPDATE back.
    for kind, (given, written) in session.info.pop(_NUMBERS, {}).items():
        if given > written:
            session.execute(_SETTLE_COUNTER, {"settle_kind": kind, "given": given})


@event.listens_for(Session, "after_transaction_end")
def _forget_numbers(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_NUMBERS, None)


def _numbered_insert(kind: TicketKind) -> Insert:
    """PostgreSQL: the ticket INSERT drawing its number, and the reference with it, itself.

    The sequence is read once in a CTE (a volatile one is never inlined), so the number and
    the reference agree.
    """
    table = _TICKET_INSERT.table
    drawn = select(func.nextval(ticket_sequence(kind)).label("n")).cte(f"drawn_{kind.value}")
    number = select(drawn.c.n).scalar_subquery()
    return (
        insert(table)
        .values(number=number, ref=literal(f"{kind.prefix}-") + sql_cast(number, String))
        .returning(table.c.id, table.c.number)
    )


_NUMBERED_INSERT = {
    kind: Direct(
        _numbered_insert(kind), [k for k in _TICKET_INSERT.keys if k not in ("number", "ref")]
    )
    for kind in TicketKind
}


class TicketRepository:
    """Tickets, their references, their event log and approvals."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_number(self, kind: TicketKind) -> int:
        """The next number of this kind.

        PostgreSQL hands numbers out from a sequence per kind, outside the transaction, so
        workers creating tickets at once never wait for each other (a rolled-back
        transaction leaves a gap). SQLite has one writer at a time and uses a counter row:
        every transaction there holds the write lock from its `BEGIN IMMEDIATE`, so the
        first ticket of a kind bumps the row and the later ones of the same transaction
        count on from it, the row catching up once at commit.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            result = await self.session.execute(_NEXTVAL[kind])
            return int(result.scalar_one())
        held: dict[TicketKind, tuple[int, int]] = self.session.sync_session.info.setdefault(
            _NUMBERS, {}
        )
        if kind in held:
            given, written = held[kind]
            held[kind] = (given + 1, written)
            return given + 1
        found = await _BUMP_COUNTER.scalar(self.session, {"bump_kind": kind})
        if found is None:
            await self.session.execute(insert(_COUNTERS), {"kind": kind, "last": 1})
        number = 1 if found is None else int(found)
        held[kind] = (number, number)
        return number

    async def create(
        self, *, kind: TicketKind, title: str, requester: Person, **fields: Any
    ) -> Ticket:
        """A new ticket, inserted at once by a Core INSERT and handed back as a loaded object.

        On PostgreSQL the INSERT takes its number from the kind's sequence itself, so a new
        ticket is one statement.
        """
        given = {**fields, "kind": kind, "title": title[:300], "requester_id": requester.id}
        origin = fields.get("origin")
        if origin and origin.get("thread"):
            given["origin_thread"] = thread_key(
                origin.get("channel") or "", origin.get("conversation") or "", origin["thread"]
            )
        if self.session.get_bind().dialect.name == "postgresql":
            row = _TICKET_INSERT.values({**given, "number": 0, "ref": ""})
            del row["number"], row["ref"]
            (found,) = await _NUMBERED_INSERT[kind].rows(self.session, row)
            ticket_id, number = int(found[0]), int(found[1])
            row.update(number=number, ref=f"{kind.prefix}-{number}")
        else:
            number = await self.next_number(kind)
            row = _TICKET_INSERT.values(
                {**given, "number": number, "ref": f"{kind.prefix}-{number}"}
            )
            ticket_id = await _TICKET_INSERT.insert(self.session, row)
        ticket: Ticket = _TICKET_INSERT.attach(self.session, ticket_id, row)
        # Fill the relationships from what this unit of work already loaded, without a reload
        # and without marking the new row changed; the group is left unloaded when unknown.
        set_committed_value(ticket, "requester", requester)
        for attr, model, key in (
            ("service", Service, ticket.service_id),
            ("assignee", Person, ticket.assignee_id),
            ("group", Group, ticket.group_id),
        ):
            loaded = self._loaded(model, key)
            if loaded is None and key is not None and attr != "group":
                loaded = await self.session.get(model, key)
            if key is None or loaded is not None:
                set_committed_value(ticket, attr, loaded)
        return ticket

    def _loaded(self, model: type[Any], key: int | None) -> Any:
        """An object already in this unit of work's identity map, without a query."""
        if key is None:
            return None
        return self.session.sync_session.identity_map.get(identity_key(model, key))

    async def get(self, ticket_id: int) -> Ticket | None:
        """A ticket by id."""
        return await self.session.get(Ticket, ticket_id)

    async def stored_version(self, ticket_id: int) -> int | None:
        """The ticket's version as committed now, read past what this session holds."""
        stmt = select(Ticket.version).where(Ticket.id == ticket_id)
        return (await self.session.execute(stmt.execution_options(autoflush=False))).scalar()

    async def by_ref(self, ref: str) -> Ticket | None:
        """A ticket by its reference, in any case."""
        stmt = select(Ticket).where(Ticket.ref == ref.upper())
        return (await self.session.scalars(stmt)).first()

    async def by_origin(self, channel: str, conversation: str, thread: str) -> Ticket | None:
        """The first ticket opened in this conversation thread (a chat thread's own ticket)."""
        stmt = (
            select(Ticket)
            .where(
                Ticket.origin_thread == thread_key(channel, conversation, thread),
                Ticket.origin["thread"].as_string() == thread,
                Ticket.origin["conversation"].as_string() == conversation,
                Ticket.origin["channel"].as_string() == channel,
            )
            .order_by(Ticket.id)
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def by_number(self, number: int) -> list[Ticket]:
        """Tickets of any kind with this number (for a bare `#1042`)."""
        return list(await self.session.scalars(select(Ticket).where(Ticket.number == number)))

    async def for_requester(
        self, person_id: int, *, open_only: bool = True, limit: int = 20
    ) -> list[Ticket]:
        """A requester's tickets, most recently updated first."""
        stmt = select(Ticket).where(Ticket.requester_id == person_id)
        if open_only:
            stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
        stmt = stmt.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    async def latest_open(self, person_id: int, kinds: Sequence[TicketKind] = ()) -> Ticket | None:
        """A requester's most recently updated open ticket, of the given kinds if any."""
        stmt = select(Ticket).where(
            Ticket.requester_id == person_id, Ticket.status.in_(OPEN_STATUSES)
        )
        if kinds:
            stmt = stmt.where(Ticket.kind.in_(kinds))
        stmt = stmt.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(1)
        return (await self.session.scalars(stmt)).first()

    async def latest_resolved(self, person_id: int) -> Ticket | None:
        """A requester's most recently resolved ticket."""
        stmt = (
            select(Ticket)
            .where(Ticket.requester_id == person_id, Ticket.status == Status.RESOLVED)
            .order_by(Ticket.resolved_at.desc().nulls_last(), Ticket.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def search(
        self,
        *,
        requester_id: int | None = None,
        assignee_id: int | None = None,
        kind: TicketKind | None = None,
        status: Sequence[Status] = (),
        priority: Priority | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Ticket], int]:
        """Tickets matching every filter given, newest first."""
        stmt = select(Ticket)
        if requester_id is not None:
            stmt = stmt.where(Ticket.requester_id == requester_id)
        if assignee_id is not None:
            stmt = stmt.where(Ticket.assignee_id == assignee_id)
        if kind is not None:
            stmt = stmt.where(Ticket.kind == kind)
        if status:
            stmt = stmt.where(Ticket.status.in_(status))
        if priority is not None:
            stmt = stmt.where(Ticket.priority == priority)
        total = (
            await self.session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = await self.session.scalars(
            stmt.order_by(Ticket.id.desc()).limit(limit).offset(offset)
        )
        return list(rows), int(total)

    async def awaiting_approval(self, limit: int = 20) -> list[Ticket]:
        """Changes waiting for approval, oldest first."""
        stmt = (
            select(Ticket)
            .where(Ticket.kind == TicketKind.CHANGE, Ticket.status == Status.AWAITING_APPROVAL)
            .order_by(Ticket.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    def log(
        self,
        ticket: Ticket,
        action: str,
        *,
        actor: Person | None,
        channel: str = "",
        external_user: str | None = None,
        inbox_id: int | None = None,
        **detail: Any,
    ) -> TicketEvent:
        """Append to the ticket's event log: what happened, who did it, through which channel.

        The event is written with the unit of work's next flush (one multi-row INSERT for
        all events queued by then); its `id` is set then, and until then its fields may
        still be changed.
        """
        ev = unsaved(
            TicketEvent,
            {
                "ticket_id": ticket.id,
                "actor_id": actor.id if actor else None,
                "action": action,
                "detail": {k: v for k, v in detail.items() if v is not None},
                "channel": channel,
                "external_user": external_user,
                "inbox_id": inbox_id,
                "at": utcnow(),
            },
        )
        queue_insert(self.session, _EVENT_INSERT.many_returning_id, _EVENT_INSERT.keys, ev)
        return ev

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        """A ticket's history, in order."""
        stmt = (
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return list(await self.session.scalars(stmt))

    async def approvals(self, ticket_id: int) -> list[Approval]:
        """A ticket's approval decisions, in order."""
        stmt = select(Approval).where(Approval.ticket_id == ticket_id).order_by(Approval.id)
        return list(await self.session.scalars(stmt))

    async def add_approval(
        self, ticket: Ticket, approver: Person, decision: Decision, *, comment: str, channel: str
    ) -> Approval:
        """Record an approver's decision on a ticket."""
        row = Approval(
            ticket_id=ticket.id,
            approver_id=approver.id,
            decision=decision,
            comment=comment,
            channel=channel,
            at=utcnow(),
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def count(self) -> int:
        """How many tickets there are."""
        return int((await self.session.execute(select(func.count(Ticket.id)))).scalar_one())
