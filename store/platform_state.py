"""Platform rule state: opt-outs, messaging windows, choices offered, public-reply claims.

One row per `(kind, channel, address)` with a text value and a version that every write
raises. Each operation is one statement in its own transaction: `put` is a dialect upsert,
`compare_and_set` an insert that does nothing on conflict (when nothing is expected) or an
update guarded by the version. On PostgreSQL a second update of the same row waits for the
first to commit and then finds the version changed, so of two concurrent writers expecting
the same version exactly one succeeds; SQLite serialises writers outright.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, Text, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from store.db import SessionFactory
from store.hotpath import insert_of
from store.models import Base
from store.types import utcnow


class PlatformStateRow(Base):
    """One remembered value of a platform's messaging rules."""

    __tablename__ = "platform_state"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40), primary_key=True)
    address: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformStateEntry:
    """A stored value and its version."""

    value: str
    version: int
    updated_at: datetime


_COLUMNS = (PlatformStateRow.value, PlatformStateRow.version, PlatformStateRow.updated_at)


def _entry(row: Any) -> PlatformStateEntry | None:
    if row is None:
        return None
    return PlatformStateEntry(value=row.value, version=row.version, updated_at=row.updated_at)


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return insert_of(dialect)(PlatformStateRow)


class PlatformStateRepository:
    """The operations inside a caller's transaction (a unit of work may join them)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, kind: str, channel: str, address: str) -> PlatformStateEntry | None:
        """The stored value and its version, or None."""
        result = await self.session.execute(
            select(*_COLUMNS).where(
                PlatformStateRow.kind == kind,
                PlatformStateRow.channel == channel,
                PlatformStateRow.address == address,
            )
        )
        return _entry(result.first())

    async def put(self, kind: str, channel: str, address: str, value: str) -> PlatformStateEntry:
        """Store `value` whatever was there; the entry as written."""
        now = utcnow()
        insert = _insert(self.session).values(
            kind=kind, channel=channel, address=address, value=value, version=1, updated_at=now
        )
        stmt = insert.on_conflict_do_update(
            index_elements=["kind", "channel", "address"],
            set_={
                "value": insert.excluded.value,
                "version": PlatformStateRow.version + 1,
                "updated_at": insert.excluded.updated_at,
            },
        ).returning(*_COLUMNS)
        entry = _entry((await self.session.execute(stmt)).first())
        if entry is None:
            raise RuntimeError("an upsert returned no row")
        return entry

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> PlatformStateEntry | None:
        """Store `value` only if the version is still `expected` (None: no row yet)."""
        now = utcnow()
        if expected is None:
            stmt: Any = (
                _insert(self.session)
                .values(
                    kind=kind,
                    channel=channel,
                    address=address,
                    value=value,
                    version=1,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["kind", "channel", "address"])
                .returning(*_COLUMNS)
            )
        else:
            stmt = (
                update(PlatformStateRow)
                .where(
                    PlatformStateRow.kind == kind,
                    PlatformStateRow.channel == channel,
                    PlatformStateRow.address == address,
                    PlatformStateRow.version == expected,
                )
                .values(value=value, version=PlatformStateRow.version + 1, updated_at=now)
                .returning(*_COLUMNS)
            )
        return _entry((await self.session.execute(stmt)).first())


class SqlPlatformState:
    """`PlatformStateStore` in the database: each operation in a transaction of its own."""

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory

    async def get(self, kind: str, channel: str, address: str) -> PlatformStateEntry | None:
        """An entry, read in a session of its own."""
        async with self._factory() as session:
            return await PlatformStateRepository(session).get(kind, channel, address)

    async def put(self, kind: str, channel: str, address: str, value: str) -> PlatformStateEntry:
        """Write an entry and commit it at once."""
        async with self._factory() as session, session.begin():
            return await PlatformStateRepository(session).put(kind, channel, address, value)

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> PlatformStateEntry | None:
        """Replace an entry only while its version is still `expected`; None when it moved on."""
        async with self._factory() as session, session.begin():
            return await PlatformStateRepository(session).compare_and_set(
                kind, channel, address, expected, value
            )
