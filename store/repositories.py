"""Queries of the directory, the configuration database and tickets; handlers use these only."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from store.enums import Decision, PersonKind, Priority, Role, Status, TicketKind
from store.hotpath import CoreInsert, queue_insert
from store.models import (
    ApiToken,
    Approval,
    ChannelIdentity,
    Cursor,
    DialogueState,
    Group,
    GroupMember,
    Person,
    PersonRole,
    PersonSkill,
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


class PeopleRepository:
    """The directory: people, their roles, groups, skills and channel identities."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._prefetched: dict[tuple[str, str], ChannelIdentity | None] = {}

    async def get(self, person_id: int) -> Person | None:
        return await self.session.get(Person, person_id)

    async def get_full(self, person_id: int) -> Person | None:
        """A person with skills, groups and identities loaded too."""
        stmt = (
            select(Person)
            .where(Person.id == person_id)
            .options(
                selectinload(Person.skills),
                selectinload(Person.memberships).selectinload(GroupMember.group),
                selectinload(Person.identities),
            )
        )
        return (await self.session.scalars(stmt)).first()

    async def everyone(self) -> list[Person]:
        """The whole directory with identities, by name."""
        stmt = select(Person).order_by(Person.name).options(selectinload(Person.identities))
        return list(await self.session.scalars(stmt))

    async def by_email(self, email: str) -> Person | None:
        stmt = select(Person).where(func.lower(Person.email) == email.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def identity(
        self, platform: str, external_id: str, *, with_person: bool = False
    ) -> ChannelIdentity | None:
        """A platform identity; `with_person` loads its person (and roles) in the same trip."""
        if (platform, external_id) in self._prefetched:
            return self._prefetched.pop((platform, external_id))
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.platform == platform, ChannelIdentity.external_id == external_id
        )
        if with_person:
            stmt = stmt.options(joinedload(ChannelIdentity.person))
        return (await self.session.scalars(stmt)).first()

    async def prefetch_identities(self, keys: Sequence[tuple[str, str]]) -> None:
        """Load many identities with their people in one query, for the next lookups.

        Each prefetched answer serves one `identity()` call; later calls ask the database,
        so an identity bound in between is seen.
        """
        wanted = set(keys)
        if not wanted:
            return
        stmt = (
            select(ChannelIdentity)
            .where(tuple_(ChannelIdentity.platform, ChannelIdentity.external_id).in_(list(wanted)))
            .options(joinedload(ChannelIdentity.person))
        )
        found = {(i.platform, i.external_id): i for i in await self.session.scalars(stmt)}
        for key in wanted:
            self._prefetched[key] = found.get(key)

    async def by_identity(self, platform: str, external_id: str) -> Person | None:
        ident = await self.identity(platform, external_id)
        return await self.get(ident.person_id) if ident else None

    async def create(
        self,
        *,
        name: str,
        email: str | None = None,
        kind: PersonKind = PersonKind.EMPLOYEE,
        roles: Iterable[Role] = (Role.REQUESTER,),
    ) -> Person:
        person = Person(name=name, email=email.lower() if email else None, kind=kind)
        person.roles = [PersonRole(role=r) for r in dict.fromkeys(roles)]
        person.skills = []
        person.memberships = []
        person.identities = []
        self.session.add(person)
        await self.session.flush()
        return person

    async def bind_identity(
        self,
        person: Person,
        platform: str,
        external_id: str,
        *,
        address: dict[str, Any] | None = None,
        verified: bool = True,
    ) -> ChannelIdentity:
        ident = ChannelIdentity(
            person_id=person.id,
            platform=platform,
            external_id=external_id,
            verified=verified,
            last_address=address,
            last_seen_at=utcnow() if address else None,
        )
        self.session.add(ident)
        await self.session.flush()
        return ident

    async def unbind_identity(self, platform: str, external_id: str) -> bool:
        result = await self.session.execute(
            delete(ChannelIdentity).where(
                ChannelIdentity.platform == platform, ChannelIdentity.external_id == external_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def touch_identity(self, ident: ChannelIdentity, address: dict[str, Any]) -> None:
        """Remember where the person last wrote from, so updates can reach them there."""
        if ident.last_address != address:
            ident.last_address = address
        seen = ident.last_seen_at
        if seen is None or utcnow() - seen > timedelta(minutes=5):
            ident.last_seen_at = utcnow()

    async def last_address(self, person_id: int) -> dict[str, Any] | None:
        """Where a person can be reached: the channel they most recently wrote from."""
        stmt = (
            select(ChannelIdentity.last_address)
            .where(
                ChannelIdentity.person_id == person_id,
                ChannelIdentity.last_address.is_not(None),
            )
            .order_by(ChannelIdentity.last_seen_at.desc().nulls_last())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def last_contact(self, person_id: int) -> tuple[dict[str, Any], datetime | None] | None:
        """Where the person most recently wrote from, and when (`last_seen_at`), if ever."""
        stmt = (
            select(ChannelIdentity.last_address, ChannelIdentity.last_seen_at)
            .where(
                ChannelIdentity.person_id == person_id,
                ChannelIdentity.last_address.is_not(None),
            )
            .order_by(ChannelIdentity.last_seen_at.desc().nulls_last())
            .limit(1)
        )
        row = (await self.session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def with_role(self, role: Role) -> list[Person]:
        stmt = (
            select(Person)
            .join(PersonRole)
            .where(PersonRole.role == role, Person.active.is_(True))
            .order_by(Person.id)
        )
        return list(await self.session.scalars(stmt))

    async def in_group(self, group: str) -> list[Person]:
        stmt = (
            select(Person)
            .join(GroupMember, GroupMember.person_id == Person.id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.name == group, Person.active.is_(True))
            .order_by(Person.id)
        )
        return list(await self.session.scalars(stmt))

    async def group(self, name: str, *, create: bool = False) -> Group | None:
        found = (await self.session.scalars(select(Group).where(Group.name == name))).first()
        if found is None and create:
            found = Group(name=name, description="")
            self.session.add(found)
            await self.session.flush()
        return found

    async def set_profile(
        self,
        person: Person,
        *,
        name: str,
        roles: Iterable[Role],
        groups: Iterable[str],
        skills: Iterable[str],
    ) -> None:
        """Replace a person's name, roles, groups and skills (directory import)."""
        await self.session.refresh(person, attribute_names=["skills", "memberships"])
        person.name = name
        person.kind = PersonKind.EMPLOYEE
        wanted_roles = list(dict.fromkeys(roles)) or [Role.REQUESTER]
        person.roles = [PersonRole(role=r) for r in wanted_roles]
        person.skills = [PersonSkill(skill=s) for s in dict.fromkeys(skills)]
        members = []
        for g in dict.fromkeys(groups):
            grp = await self.group(g, create=True)
            assert grp is not None
            members.append(GroupMember(group_id=grp.id))
        person.memberships = members
        await self.session.flush()

    async def count(self) -> int:
        return int((await self.session.execute(select(func.count(Person.id)))).scalar_one())


def ticket_sequence(kind: TicketKind) -> str:
    """The PostgreSQL sequence that numbers tickets of a kind."""
    return f"ticket_number_{kind.value}"


_TICKET_INSERT = CoreInsert(Ticket)
_EVENT_INSERT = CoreInsert(TicketEvent)
_COUNTERS = cast(Table, TicketCounter.__table__)
_BUMP_COUNTER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.kind == bindparam("bump_kind"))
    .values(last=_COUNTERS.c.last + 1)
    .returning(_COUNTERS.c.last)
)
_NEXTVAL = {kind: select(func.nextval(ticket_sequence(kind))) for kind in TicketKind}


class TicketRepository:
    """Tickets, their references, their event log and approvals."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def next_number(self, kind: TicketKind) -> int:
        """The next number of this kind.

        PostgreSQL hands numbers out from a sequence per kind, outside the transaction, so
        workers creating tickets at once never wait for each other (a rolled-back
        transaction leaves a gap). SQLite has one writer at a time and uses a counter row.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            result = await self.session.execute(_NEXTVAL[kind])
            return int(result.scalar_one())
        result = await self.session.execute(_BUMP_COUNTER, {"bump_kind": kind})
        number = result.scalar_one_or_none()
        if number is None:
            await self.session.execute(insert(_COUNTERS), {"kind": kind, "last": 1})
            return 1
        return int(number)

    async def create(
        self, *, kind: TicketKind, title: str, requester: Person, **fields: Any
    ) -> Ticket:
        """A new ticket, inserted at once by a Core INSERT and handed back as a loaded object."""
        number = await self.next_number(kind)
        row = _TICKET_INSERT.values(
            {
                **fields,
                "kind": kind,
                "number": number,
                "ref": f"{kind.prefix}-{number}",
                "title": title[:300],
                "requester_id": requester.id,
            }
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
        return await self.session.get(Ticket, ticket_id)

    async def stored_version(self, ticket_id: int) -> int | None:
        """The ticket's version as committed now, read past what this session holds."""
        stmt = select(Ticket.version).where(Ticket.id == ticket_id)
        return (await self.session.execute(stmt.execution_options(autoflush=False))).scalar()

    async def by_ref(self, ref: str) -> Ticket | None:
        stmt = select(Ticket).where(Ticket.ref == ref.upper())
        return (await self.session.scalars(stmt)).first()

    async def by_origin(self, channel: str, conversation: str, thread: str) -> Ticket | None:
        """The first ticket opened in this conversation thread (a chat thread's own ticket)."""
        stmt = (
            select(Ticket)
            .where(
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
        stmt = select(Ticket).where(Ticket.requester_id == person_id)
        if open_only:
            stmt = stmt.where(Ticket.status.in_(OPEN_STATUSES))
        stmt = stmt.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(limit)
        return list(await self.session.scalars(stmt))

    async def latest_open(self, person_id: int, kinds: Sequence[TicketKind] = ()) -> Ticket | None:
        stmt = select(Ticket).where(
            Ticket.requester_id == person_id, Ticket.status.in_(OPEN_STATUSES)
        )
        if kinds:
            stmt = stmt.where(Ticket.kind.in_(kinds))
        stmt = stmt.order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(1)
        return (await self.session.scalars(stmt)).first()

    async def latest_resolved(self, person_id: int) -> Ticket | None:
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
        ev = TicketEvent(
            ticket_id=ticket.id,
            actor_id=actor.id if actor else None,
            action=action,
            detail={k: v for k, v in detail.items() if v is not None},
            channel=channel,
            external_user=external_user,
            inbox_id=inbox_id,
            at=utcnow(),
        )
        queue_insert(self.session, _EVENT_INSERT.many_returning_id, _EVENT_INSERT.keys, ev)
        return ev

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        stmt = (
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return list(await self.session.scalars(stmt))

    async def approvals(self, ticket_id: int) -> list[Approval]:
        stmt = select(Approval).where(Approval.ticket_id == ticket_id).order_by(Approval.id)
        return list(await self.session.scalars(stmt))

    async def add_approval(
        self, ticket: Ticket, approver: Person, decision: Decision, *, comment: str, channel: str
    ) -> Approval:
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
        return int((await self.session.execute(select(func.count(Ticket.id)))).scalar_one())


class ServiceRepository:
    """The configuration database: services and their parts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._all: list[Service] | None = None

    async def all(self) -> list[Service]:
        """Every service, read once per unit of work."""
        if self._all is None:
            self._all = list(await self.session.scalars(select(Service).order_by(Service.name)))
        return self._all

    async def by_name(self, name: str) -> Service | None:
        """A service by its name or one of its aliases, case-insensitively."""
        wanted = name.strip().lower()
        services = await self.all()
        for svc in services:
            if svc.name.lower() == wanted:
                return svc
        for svc in services:
            if wanted in (a.lower() for a in svc.aliases or ()):
                return svc
        return None

    async def upsert(self, name: str, **fields: Any) -> Service:
        self._all = None
        svc = (await self.session.scalars(select(Service).where(Service.name == name))).first()
        if svc is None:
            svc = Service(name=name, **fields)
            self.session.add(svc)
        else:
            for k, v in fields.items():
                setattr(svc, k, v)
        await self.session.flush()
        return svc


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    prefix: str
    person_id: int


class TokenRepository:
    """Bearer tokens of the REST API: only a SHA-256 of each is stored."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, person: Person, name: str = "") -> IssuedToken:
        token = "sb_" + secrets.token_urlsafe(32)
        self.session.add(
            ApiToken(
                person_id=person.id,
                name=name,
                token_hash=self.digest(token),
                prefix=token[:10],
            )
        )
        await self.session.flush()
        return IssuedToken(token=token, prefix=token[:10], person_id=person.id)

    async def authenticate(self, token: str) -> Person | None:
        stmt = select(ApiToken).where(
            ApiToken.token_hash == self.digest(token), ApiToken.revoked_at.is_(None)
        )
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            return None
        person = await self.session.get(Person, row.person_id)
        return person if person is not None and person.active else None


class DialogueRepository:
    """Dialogue state in the database (embedded mode)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> dict[str, Any] | None:
        row = await self.session.get(DialogueState, key)
        if row is None or row.expires_at <= utcnow():
            return None
        return dict(row.data)

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        row = await self.session.get(DialogueState, key)
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        if row is None:
            self.session.add(DialogueState(key=key, data=data, expires_at=expires))
        else:
            row.data = data
            row.expires_at = expires

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(DialogueState).where(DialogueState.key == key))

    async def purge_expired(self) -> int:
        result = await self.session.execute(
            delete(DialogueState).where(DialogueState.expires_at <= utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


class CursorRepository:
    """Small durable values such as polling positions."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: str) -> str | None:
        row = await self.session.get(Cursor, key)
        return row.value if row else None

    async def set(self, key: str, value: str) -> None:
        row = await self.session.get(Cursor, key)
        if row is None:
            self.session.add(Cursor(key=key, value=value, updated_at=utcnow()))
        else:
            row.value = value
            row.updated_at = utcnow()
