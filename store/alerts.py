"""Monitoring integrations, the incidents alerts opened, and links between tickets."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import bindparam, case, event, exists, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from store.config_memo import ConfigMemo
from store.direct import Direct
from store.enums import TicketKind
from store.hotpath import insert_of, reads, written_table
from store.models import (
    AlertIncident,
    Integration,
    Service,
    ServiceLink,
    Ticket,
    TicketEvent,
    TicketLink,
)
from store.repositories import OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class IssuedIntegration:
    """What `issue` hands out once: the bearer token and, when asked for, the signing secret."""

    name: str
    token: str
    secret: str | None


def digest(token: str) -> str:
    """The stored form of an integration token."""
    return hashlib.sha256(token.encode()).hexdigest()


class IntegrationRepository:
    """Monitoring sources and their credentials."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issue(self, name: str, *, with_secret: bool = False) -> IssuedIntegration:
        """A new token (and secret) for `name`; an existing integration's are replaced."""
        token = "sbi_" + secrets.token_urlsafe(32)
        secret = secrets.token_hex(32) if with_secret else None
        row = (
            await self.session.scalars(select(Integration).where(Integration.name == name))
        ).first()
        if row is None:
            row = Integration(name=name)
            self.session.add(row)
        row.token_hash = digest(token)
        row.prefix = token[:10]
        row.signing_secret = secret
        row.revoked_at = None
        await self.session.flush()
        return IssuedIntegration(name=name, token=token, secret=secret)

    async def by_token(self, token: str) -> str | None:
        """The name of the live integration holding this token, or None."""
        stmt = select(Integration.name).where(
            Integration.token_hash == digest(token), Integration.revoked_at.is_(None)
        )
        return (await self.session.scalars(stmt)).first()

    async def signing_secrets(self) -> list[tuple[str, str]]:
        """`(name, secret)` of every live integration that signs its bodies."""
        stmt = select(Integration.name, Integration.signing_secret).where(
            Integration.signing_secret.is_not(None), Integration.revoked_at.is_(None)
        )
        rows = (await self.session.execute(stmt)).all()
        return [(str(r[0]), str(r[1])) for r in rows if r[1]]


@dataclass(frozen=True, slots=True)
class AlertState:
    """What a repeat needs to know of a fingerprint's incident, read without loading it."""

    id: int
    ticket_open: bool


class AlertRepository:
    """Which incident each alert fingerprint opened, and tickets linked to outages."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session, "alerts")

    async def by_fingerprint(self, fingerprint: str) -> AlertIncident | None:
        """The incident row an alert fingerprint opened, if any."""
        stmt = select(AlertIncident).where(AlertIncident.fingerprint == fingerprint)
        return (await self.session.scalars(stmt)).first()

    async def states(self, fingerprints: Collection[str]) -> dict[str, AlertState]:
        """The incident row of each fingerprint that has one, and whether its ticket is open.

        One statement on the fingerprint's unique index, no ORM objects.
        """
        if not fingerprints:
            return {}
        stmt = (
            select(AlertIncident.fingerprint, AlertIncident.id, Ticket.status)
            .join(Ticket, Ticket.id == AlertIncident.ticket_id)
            .where(AlertIncident.fingerprint.in_(list(fingerprints)))
        )
        rows = (await self.session.execute(stmt)).all()
        return {
            str(fp): AlertState(id=int(row_id), ticket_open=status in OPEN_STATUSES)
            for fp, row_id, status in rows
        }

    async def count_repeats(self, counts: Mapping[int, int], seen_at: datetime) -> int:
        """Add `counts[id]` notifications to each incident row, seen at `seen_at`.

        One statement; only rows whose ticket is still open count (how many did).
        """
        if not counts:
            return 0
        still_open = select(Ticket.id).where(Ticket.status.in_(OPEN_STATUSES))
        result = await self.session.execute(
            update(AlertIncident)
            .where(AlertIncident.id.in_(list(counts)), AlertIncident.ticket_id.in_(still_open))
            .values(
                count=AlertIncident.count + case(dict(counts), value=AlertIncident.id, else_=0),
                last_seen_at=seen_at,
                open=True,
            ),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def record(
        self,
        fingerprint: str,
        ticket: Ticket,
        *,
        service_id: int | None,
        source: str,
        seen_at: datetime,
    ) -> AlertIncident:
        """Remember that `fingerprint` now belongs to `ticket` (a first or a fresh outage)."""
        row = await self.by_fingerprint(fingerprint)
        if row is None:
            row = AlertIncident(fingerprint=fingerprint)
            self.session.add(row)
        row.ticket_id = ticket.id
        row.ticket = ticket
        row.service_id = service_id
        row.source = source[:120]
        row.count = 1
        row.open = True
        row.first_seen_at = seen_at
        row.last_seen_at = seen_at
        await self.session.flush()
        return row

    async def open_for_service(
        self, service_id: int | Sequence[int], since: datetime
    ) -> AlertIncident | None:
        """The latest alert incident on a service (or any of several) with its ticket open.

        Only an incident whose alert still fires or was seen since `since` counts.
        """
        ids = (service_id,) if isinstance(service_id, int) else tuple(service_id)
        # Every new incident asks and almost none is part of an outage: the question is a
        # column query, the row (with its ticket) is loaded only when there is one, and a
        # "none" holds for the rest of the transaction until it changes an alert incident
        # or a ticket's status (`_NO_OUTAGE`), so a batch of reports asks once.
        quiet = _quiet(self.session.sync_session)
        if quiet is not None:
            asked = quiet.get(ids)
            if asked is not None and asked <= since:
                return None
        found = await _OPEN_FOR_SERVICE.scalar(self.session, {"ids": list(ids), "since": since})
        if found is None:
            quiet = _quiet(self.session.sync_session)
            if quiet is not None:
                # A later `since` only leaves more out: the earliest asked about is kept.
                quiet[ids] = min(since, quiet.get(ids, since))
            return None
        return await self.session.get(AlertIncident, found)

    async def touched_by_people(self, ticket: Ticket) -> bool:
        """Whether anyone but the monitoring source changed the ticket (assigned, noted...)."""
        stmt = (
            select(TicketEvent.id)
            .where(
                TicketEvent.ticket_id == ticket.id,
                TicketEvent.actor_id.is_not(None),
                TicketEvent.actor_id != ticket.requester_id,
            )
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first() is not None

    async def link(self, ticket: Ticket, outage: Ticket, kind: str = "known_outage") -> TicketLink:
        """Link a ticket to the outage it is part of."""
        row = TicketLink(ticket_id=ticket.id, linked_id=outage.id, kind=kind)
        self.session.add(row)
        await self.session.flush()
        return row

    async def links(self, ticket_id: int) -> list[TicketLink]:
        """Links from or to a ticket."""
        stmt = (
            select(TicketLink)
            .where((TicketLink.ticket_id == ticket_id) | (TicketLink.linked_id == ticket_id))
            .order_by(TicketLink.id)
        )
        return list(await self.session.scalars(stmt))

    async def triage_service(self, name: str, description: str) -> Service:
        """The service alerts on unknown CIs are filed under, created on first use.

        Workers may meet their first unknown CI at the same moment: the insert yields to a row
        another one committed instead of failing the event.
        """
        stmt = select(Service).where(Service.name == name)
        found = (await self.session.scalars(stmt)).first()
        if found is not None:
            return found
        await self.session.execute(
            insert_of(self.session.get_bind().dialect.name)(Service)
            .values(name=name, description=description)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        return (await self.session.scalars(stmt)).one()

    async def upstream(self, service_id: int, depth: int = 4) -> list[int]:
        """A service and what it depends on or runs on, and its parts, up to `depth` steps.

        These are the items whose outage can be its outage. One statement per step; a cycle
        ends it. Read once per unit of work (`store.config_memo`): every new incident asks.
        """

        async def load() -> list[int]:
            seen = [service_id]
            frontier = {service_id}
            for _ in range(depth):
                found = set(await self.session.scalars(_UPSTREAM, {"frontier": list(frontier)}))
                frontier = {i for i in found if i is not None and i not in seen}
                if not frontier:
                    break
                seen += sorted(frontier)
            return seen

        return list(await self.memo.get(("upstream", service_id, depth), load))

    async def open_reports(self, service_ids: Sequence[int], since: datetime) -> list[Ticket]:
        """Open incidents people reported on these services since `since`, not yet linked.

        These are the ones an alert opening now explains, as none is tied to an outage yet.
        """
        if not service_ids:
            return []
        # Asked per candidate through the tables' ticket indexes, rather than as lists of
        # every alerted or linked ticket there has ever been.
        alerted = exists().where(AlertIncident.ticket_id == Ticket.id)
        linked = exists().where(TicketLink.ticket_id == Ticket.id)
        stmt = (
            select(Ticket)
            .where(
                Ticket.kind == TicketKind.INCIDENT,
                Ticket.service_id.in_(list(service_ids)),
                Ticket.status.in_(OPEN_STATUSES),
                Ticket.created_at >= since,
                ~alerted,
                ~linked,
            )
            .order_by(Ticket.id)
        )
        return list(await self.session.scalars(stmt))


_NO_OUTAGE = "switchboard.no_outage"
"""`session.info` key: service sets found with no alert incident open, and the `since` asked.

Within a transaction only its own writes can add an answer: an alert incident written, or
a ticket's status changed (a reopened outage counts again). Either drops the key, as the
transaction's end does. A change committed by another transaction meanwhile is seen by the
next one, as if the reports had come just before it.
"""


def _moves_outages(session: Session) -> bool:
    """Whether the session holds unflushed changes that can make an alert incident count.

    Asked for every new incident: the session's own collections of states are read, as
    `session.new`, `.dirty` and `.deleted` build a new set on every access.
    """
    if any(issubclass(s.class_, AlertIncident) for s in chain(session._new, session._deleted)):
        return True
    for state in session.identity_map._modified:
        cls = state.class_
        if issubclass(cls, AlertIncident):
            return True
        if issubclass(cls, Ticket) and state.attrs.status.history.has_changes():
            return True
    return False


def _quiet(session: Session) -> dict[tuple[int, ...], datetime] | None:
    """The transaction's "no outage" answers; None while it has changes that could move one."""
    if _moves_outages(session):
        session.info.pop(_NO_OUTAGE, None)
        return None
    found: dict[tuple[int, ...], datetime] = session.info.setdefault(_NO_OUTAGE, {})
    return found


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    if _NO_OUTAGE in session.info and _moves_outages(session):
        session.info.pop(_NO_OUTAGE, None)


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if _NO_OUTAGE not in state.session.info:
        return
    name = written_table(state)
    if name == "alert_incidents" or (name == "tickets" and not state.is_insert):
        state.session.info.pop(_NO_OUTAGE, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_NO_OUTAGE, None)


_UPSTREAM = union(
    select(ServiceLink.target_id).where(
        ServiceLink.service_id.in_(bindparam("frontier", expanding=True)),
        ServiceLink.relation.in_(("depends_on", "runs_on")),
    ),
    select(Service.id).where(Service.parent_id.in_(bindparam("frontier", expanding=True))),
).execution_options(**reads("service_links", "services"))
_OPEN_FOR_SERVICE = Direct(
    select(AlertIncident.id)
    .join(Ticket, Ticket.id == AlertIncident.ticket_id)
    .where(
        AlertIncident.service_id.in_(bindparam("ids", expanding=True)),
        or_(AlertIncident.open.is_(True), AlertIncident.last_seen_at >= bindparam("since")),
        Ticket.status.in_(OPEN_STATUSES),
    )
    .order_by(AlertIncident.last_seen_at.desc(), AlertIncident.id.desc())
    .limit(1)
    .execution_options(**reads("alert_incidents", "tickets"))
)
