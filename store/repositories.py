"""Queries of the configuration database, tokens, dialogue state and cursors.

People live in `store.people`, tickets in `store.tickets`; both are named here too.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.config_memo import ConfigMemo
from store.direct import Direct
from store.hotpath import dialect_insert, reads
from store.models import (
    ApiToken,
    Cursor,
    DialogueState,
    Person,
    Service,
)
from store.people import PeopleRepository
from store.tickets import OPEN_STATUSES, TicketRepository, ticket_sequence
from store.types import utcnow

__all__ = [
    "OPEN_STATUSES",
    "CursorRepository",
    "DialogueRepository",
    "IssuedToken",
    "PeopleRepository",
    "ServiceRepository",
    "TicketRepository",
    "TokenRepository",
    "ticket_sequence",
]


class ServiceRepository:
    """The configuration database: services and their parts."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session, "services")
        self._all: list[Service] | None = None

    async def all(self) -> list[Service]:
        """Every service, read once per unit of work (or its batch: `store.config_memo`)."""

        async def load() -> list[Service]:
            return list(await self.session.scalars(_SERVICES))

        if self._all is None:
            self._all = await self.memo.get("all", load)
        return self._all

    async def by_name(self, name: str) -> Service | None:
        """A service by its name or one of its aliases, case-insensitively.

        A name wins over an alias, and of two services with the same alias the first by
        name. Looked up in an index of plain ids, so a unit of work that takes the batch's
        carried answers attaches only the service it finds, not every service.
        """
        found = (await self.memo.get("names", self._names)).get(name.strip().lower())
        if found is None:
            return None
        return await self.memo.get(("one", found), lambda: self._one(found))

    async def _names(self) -> dict[str, int]:
        exact: dict[str, int] = {}
        aliases: dict[str, int] = {}
        for svc in await self.all():
            exact.setdefault(svc.name.lower(), svc.id)
            for alias in svc.aliases or ():
                aliases.setdefault(alias.lower(), svc.id)
        return {**aliases, **exact}

    async def _one(self, service_id: int) -> Service | None:
        # Read by `_names` in this unit of work unless it came with the batch's answers.
        return await self.session.get(Service, service_id)

    async def upsert(self, name: str, **fields: Any) -> Service:
        """Create a service or update its fields, by name."""
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
    """A freshly issued token: shown to its holder once, never stored in clear."""

    token: str
    prefix: str
    person_id: int


class TokenRepository:
    """Bearer tokens of the REST API: only a SHA-256 of each is stored."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @staticmethod
    def digest(token: str) -> str:
        """The SHA-256 a token is stored and looked up by."""
        return hashlib.sha256(token.encode()).hexdigest()

    async def issue(self, person: Person, name: str = "") -> IssuedToken:
        """Issue a new API token for `person`."""
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
        """The active person a live token belongs to; None for unknown or revoked ones."""
        # One statement: every API request asks this first.
        found = await self.session.scalars(_TOKEN_HOLDER, {"digest": self.digest(token)})
        return found.first()


_TOKEN_HOLDER = (
    select(Person)
    .join(ApiToken, ApiToken.person_id == Person.id)
    .where(
        ApiToken.token_hash == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        Person.active.is_(True),
    )
    .limit(1)
)


class DialogueRepository:
    """Dialogue state in the database (embedded mode), read and written by Core statements."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._prefetched: dict[str, dict[str, Any] | None] = {}

    async def prefetch(self, keys: Sequence[str]) -> None:
        """Read many conversations' states in one query; each serves the next `get` of its key."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._prefetched]
        if not wanted:
            return
        rows = await _DIALOGUE_MANY.rows(self.session, {"keys": wanted})
        now = utcnow()
        found = {key: dict(data) for key, data, expires in rows if expires > now}
        for key in wanted:
            self._prefetched[key] = found.get(key)

    async def get(self, key: str) -> dict[str, Any] | None:
        """A dialogue's state, None once it has expired."""
        if key in self._prefetched:
            return self._prefetched.pop(key)
        row = (await self.session.execute(_DIALOGUE_ONE, {"key": key})).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return dict(row.data)

    async def set(self, key: str, data: dict[str, Any], ttl_seconds: int) -> None:
        """Store a dialogue's state for `ttl_seconds`."""
        self._prefetched.pop(key, None)
        expires = utcnow() + timedelta(seconds=ttl_seconds)
        await self.session.execute(
            _dialogue_upsert(self.session), {"key": key, "data": data, "expires_at": expires}
        )

    async def clear(self, key: str) -> None:
        """End a dialogue."""
        self._prefetched.pop(key, None)
        await self.session.execute(_DIALOGUE_CLEAR, {"key": key})

    async def purge_expired(self) -> int:
        """Delete expired dialogues and return how many went."""
        self._prefetched.clear()
        result = await self.session.execute(
            delete(_DIALOGUE).where(_DIALOGUE.c.expires_at <= utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


_DIALOGUE = cast(Table, DialogueState.__table__)
_DIALOGUE_ONE = select(_DIALOGUE.c.data, _DIALOGUE.c.expires_at).where(
    _DIALOGUE.c.key == bindparam("key")
)
_DIALOGUE_MANY = Direct(
    select(_DIALOGUE.c.key, _DIALOGUE.c.data, _DIALOGUE.c.expires_at).where(
        _DIALOGUE.c.key.in_(bindparam("keys", expanding=True))
    )
)
_DIALOGUE_CLEAR = delete(_DIALOGUE).where(_DIALOGUE.c.key == bindparam("key"))
_DIALOGUE_UPSERT: dict[str, Any] = {}


def _dialogue_upsert(session: AsyncSession) -> Any:
    """One `INSERT ... ON CONFLICT (key) DO UPDATE` per dialect, built once."""
    name = session.get_bind().dialect.name
    stmt = _DIALOGUE_UPSERT.get(name)
    if stmt is None:
        ins = dialect_insert(session, _DIALOGUE)
        stmt = ins.on_conflict_do_update(
            index_elements=[_DIALOGUE.c.key],
            set_={"data": ins.excluded.data, "expires_at": ins.excluded.expires_at},
        )
        _DIALOGUE_UPSERT[name] = stmt
    return stmt


class CursorRepository:
    """Small durable values such as polling positions and a group's language.

    A key read once is not read again in the same unit of work while it writes none
    (`store.config_memo`): every new ticket asks for its group's language.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session, "cursors")

    async def get(self, key: str) -> str | None:
        """A cursor's stored value, None before the first write."""

        async def load() -> str | None:
            row = await self.session.get(Cursor, key, execution_options=reads("cursors"))
            return row.value if row else None

        return await self.memo.get(key, load)

    async def set(self, key: str, value: str) -> None:
        """Move a cursor to `value`."""
        self.memo.clear()
        row = await self.session.get(Cursor, key)
        if row is None:
            self.session.add(Cursor(key=key, value=value, updated_at=utcnow()))
        else:
            row.value = value
            row.updated_at = utcnow()


# Read by the first message of each batch: declared, so its queued rows wait for the rest's.
_SERVICES = select(Service).order_by(Service.name).execution_options(**reads("services"))
