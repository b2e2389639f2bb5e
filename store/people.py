"""The directory: people, their roles and channel identities (new contacts by Core INSERTs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from store.direct import Direct
from store.enums import PersonKind, Role
from store.errors import ConflictError
from store.hotpath import CoreInsert, attach, loaded, queue_insert, reads
from store.models import (
    ChannelIdentity,
    Group,
    GroupMember,
    Person,
    PersonRole,
    PersonSkill,
)
from store.recipients import channels
from store.types import utcnow


class PeopleRepository:
    """The directory: people, their roles, groups, skills and channel identities."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._prefetched: dict[tuple[str, str], ChannelIdentity | None] = {}
        # Identities found with their people: this unit of work asks for each only once.
        self._known: dict[tuple[str, str], ChannelIdentity] = {}

    async def get(self, person_id: int) -> Person | None:
        """A person by id, from the session's identity map when it is there."""
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
        """A person by e-mail address, ignoring case and surrounding spaces."""
        stmt = select(Person).where(func.lower(Person.email) == email.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def identity(
        self, platform: str, external_id: str, *, with_person: bool = False
    ) -> ChannelIdentity | None:
        """A platform identity; `with_person` loads its person (and roles) in the same trip."""
        key = (platform, external_id)
        known = self._known.get(key)
        if known is not None:
            return known
        if key in self._prefetched:
            found = self._prefetched.pop(key)
            if found is not None:
                self._known[key] = found
            return found
        stmt = select(ChannelIdentity).where(
            ChannelIdentity.platform == platform, ChannelIdentity.external_id == external_id
        )
        if with_person:
            # The person's roles load by their own query, which reads `person_roles`.
            stmt = stmt.options(joinedload(ChannelIdentity.person)).execution_options(
                **reads("channel_identities", "people")
            )
        ident = (await self.session.scalars(stmt)).first()
        if ident is not None and with_person:
            self._known[key] = ident
        return ident

    async def prefetch_identities(self, keys: Sequence[tuple[str, str]]) -> None:
        """Load many identities with their people in one query, for the next lookups.

        An identity found is served from then on; a missing one serves one `identity()`
        call, and later calls ask the database, so an identity bound in between is seen.
        """
        wanted = set(keys)
        if not wanted:
            return
        by_platform: dict[str, list[str]] = {}
        for platform, external_id in wanted:
            by_platform.setdefault(platform, []).append(external_id)
        found: dict[tuple[str, str], ChannelIdentity] = {}
        for platform, external_ids in by_platform.items():
            rows = await _PREFETCH.rows(
                self.session, {"platform": platform, "external_ids": external_ids}
            )
            for ident in _identities(self.session, rows):
                found[(ident.platform, ident.external_id)] = ident
        for key in wanted:
            self._prefetched[key] = found.get(key)

    async def by_identity(self, platform: str, external_id: str) -> Person | None:
        """The person a platform identity belongs to."""
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
        """A new person with these roles: the person written at once (a Core INSERT).

        The roles are queued (`store.hotpath.queue_insert`): a batch's new contacts share one
        INSERT, written before any query that reads roles and at the latest by the commit.
        """
        row = _PERSON_INSERT.values(
            {"name": name, "email": email.lower() if email else None, "kind": kind}
        )
        person_id = await _PERSON_INSERT.insert(self.session, row)
        person: Person = _PERSON_INSERT.attach(self.session, person_id, row)
        held = []
        for r in dict.fromkeys(roles):
            role = PersonRole(person_id=person_id, role=r)
            queue_insert(self.session, _ROLE_INSERT, _ROLE_KEYS, role)
            held.append(attach(self.session, role))
        set_committed_value(person, "roles", held)
        for empty in ("skills", "memberships", "identities"):
            set_committed_value(person, empty, [])
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
        """Bind a platform identity to `person`; `ConflictError` when it is bound already.

        Concurrent transactions binding the same identity wait for each other on the unique
        index, and the later one gets `ConflictError` (its unit of work is retried and finds
        the identity) instead of a failed transaction.
        """
        row = _IDENTITY_INSERT.values(
            {
                "person_id": person.id,
                "platform": platform,
                "external_id": external_id,
                "verified": verified,
                "last_address": address,
                "last_seen_at": utcnow() if address else None,
            }
        )
        ident_id = await _IDENTITY_INSERT.insert_new(self.session, row, "platform", "external_id")
        if ident_id is None:
            raise ConflictError(f"identity {platform} is bound already")
        ident: ChannelIdentity = _IDENTITY_INSERT.attach(self.session, ident_id, row)
        set_committed_value(ident, "person", person)
        self._known[(platform, external_id)] = ident
        self._prefetched.pop((platform, external_id), None)
        return ident

    async def unbind_identity(self, platform: str, external_id: str) -> bool:
        """Forget a platform identity; False when there was none."""
        self._known.pop((platform, external_id), None)
        self._prefetched.pop((platform, external_id), None)
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
        """Where the person most recently wrote from, and when (`last_seen_at`), if ever.

        Kept for the unit of work while it changes neither the person nor their identities
        (`store.recipients`): every notice to them asks.
        """
        for found in await channels(self.session, person_id):
            if found.last_address is not None:
                return found.last_address, found.last_seen_at
        return None

    async def with_role(self, role: Role) -> list[Person]:
        """Active people who hold `role`, oldest first."""
        stmt = (
            select(Person)
            .join(PersonRole)
            .where(PersonRole.role == role, Person.active.is_(True))
            .order_by(Person.id)
        )
        return list(await self.session.scalars(stmt))

    async def in_group(self, group: str) -> list[Person]:
        """Active members of a group, oldest first."""
        stmt = (
            select(Person)
            .join(GroupMember, GroupMember.person_id == Person.id)
            .join(Group, Group.id == GroupMember.group_id)
            .where(Group.name == group, Person.active.is_(True))
            .order_by(Person.id)
        )
        return list(await self.session.scalars(stmt))

    async def group(self, name: str, *, create: bool = False) -> Group | None:
        """A group by name; `create` adds it when it does not exist."""
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
        """How many people there are, active or not."""
        # Core, not the ORM: `/healthz` asks this, and the first ORM query configures every mapper.
        count = select(func.count()).select_from(Person.__table__)
        return int((await self.session.execute(count)).scalar_one())


_IDENTITIES, _PEOPLE, _ROLES = (
    cast(Table, m.__table__) for m in (ChannelIdentity, Person, PersonRole)
)
_PREFETCH = Direct(
    select(*_IDENTITIES.c, *_PEOPLE.c, _ROLES.c.role)
    .join(_PEOPLE, _PEOPLE.c.id == _IDENTITIES.c.person_id)
    # The people's roles joined in too: a second query per batch costs more than the few
    # repeated columns of a person with several roles.
    .outerjoin(_ROLES, _ROLES.c.person_id == _PEOPLE.c.id)
    # One platform a statement: SQLite reads the whole table for a `(platform, external_id)
    # IN (VALUES ...)` list, but finds each of these in the unique index.
    .where(
        _IDENTITIES.c.platform == bindparam("platform"),
        _IDENTITIES.c.external_id.in_(bindparam("external_ids", expanding=True)),
    )
    .execution_options(**reads("channel_identities", "people", "person_roles"))
)
"""A batch's identities of one platform with their people and roles: one row per role.

Run as Core and made into objects by `store.hotpath.loaded`: the ORM's joined eager load
of the same rows costs several times the query itself, once for every batch."""
_IDENTITY_KEYS = tuple(c.key for c in _IDENTITIES.c)
_PERSON_KEYS = tuple(c.key for c in _PEOPLE.c)
_PERSON_AT = len(_IDENTITY_KEYS)
_ROLE_AT = _PERSON_AT + len(_PERSON_KEYS)
_IDENTITY_ID_AT = _IDENTITY_KEYS.index("id")
_PERSON_ID_AT = _PERSON_AT + _PERSON_KEYS.index("id")


def _identities(session: AsyncSession, rows: Sequence[Any]) -> list[ChannelIdentity]:
    """`_PREFETCH`'s rows as loaded identities, each with its person and the person's roles.

    A person with several roles comes on several rows, and with several identities on more:
    each object is made once. What the session already held keeps what it had loaded.
    """
    idents: dict[int, ChannelIdentity] = {}
    people: dict[int, Person] = {}
    roles: dict[int, dict[Role, PersonRole]] = {}
    for row in rows:
        person_id = row[_PERSON_ID_AT]
        person = people.get(person_id)
        if person is None:
            values = dict(zip(_PERSON_KEYS, row[_PERSON_AT:_ROLE_AT], strict=True))
            person = people[person_id] = loaded(session, Person, values)
            roles[person_id] = {}
        if row[_IDENTITY_ID_AT] not in idents:
            values = dict(zip(_IDENTITY_KEYS, row[:_PERSON_AT], strict=True))
            ident = idents[row[_IDENTITY_ID_AT]] = loaded(session, ChannelIdentity, values)
            if "person" not in instance_state(ident).dict:
                set_committed_value(ident, "person", person)
        role = row[_ROLE_AT]
        if role is not None and role not in roles[person_id]:
            values = {"person_id": person_id, "role": role}
            roles[person_id][role] = loaded(session, PersonRole, values)
    for person_id, person in people.items():
        if "roles" not in instance_state(person).dict:
            set_committed_value(person, "roles", list(roles[person_id].values()))
    return list(idents.values())


_PERSON_INSERT = CoreInsert(Person)
_ROLE_INSERT = insert(cast(Table, PersonRole.__table__))
_ROLE_KEYS = ("person_id", "role")
_IDENTITY_INSERT = CoreInsert(ChannelIdentity)
