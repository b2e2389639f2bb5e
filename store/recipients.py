"""Whom a notice reaches, read once per unit of work while it leaves those people alone.

A worker transaction handles a batch of reports, and each new incident may tell the same
owner group or the same agent: their languages, the accounts they were last seen on, the
accounts the bot may open a conversation on. Those answers are kept for the rest of the
unit of work under the people they describe, and dropped as soon as it changes one of them
(their person row or any of their channel identities, flushed or not), or, for a group's
people, any configuration (group membership included, `store.config_memo`). A write whose
people cannot be told (a Core UPDATE or DELETE) drops everything. Other transactions start
empty, so what another one commits is seen by the next unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import bindparam, event, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from store.config_memo import config_settled
from store.direct import Direct
from store.hotpath import reads, watches_writes
from store.models import ChannelIdentity, Person

T = TypeVar("T")

MEMO = "switchboard.recipients"
"""`session.info` key: the answers kept, each with the people it depends on."""

_TABLES = frozenset({"people", "channel_identities"})


class Channel(NamedTuple):
    """One of a person's channel accounts, as a notice sees it."""

    platform: str
    external_id: str
    verified: bool
    last_address: dict[str, Any] | None
    last_seen_at: datetime | None


class _Kept(NamedTuple):
    value: Any
    people: frozenset[int]
    config: bool


def _memo(session: Session) -> dict[Hashable, _Kept]:
    found: dict[Hashable, _Kept] | None = session.info.get(MEMO)
    if found is None:
        found = session.info[MEMO] = {}
    return found


def _forget(session: Session, people: Iterable[int] | None) -> None:
    """Drop what depends on `people`; everything when None (who was changed is unknown)."""
    memo: dict[Hashable, _Kept] | None = session.info.get(MEMO)
    if not memo:
        return
    if people is None:
        memo.clear()
        return
    changed = frozenset(people)
    for key in [k for k, kept in memo.items() if kept.people & changed]:
        del memo[key]


def _changed_people(objs: Iterable[Any]) -> set[int] | None:
    """The ids of the people whose rows among `objs` change; None when one cannot be told."""
    found: set[int] = set()
    for obj in objs:
        if isinstance(obj, Person):
            if obj.id is not None:
                found.add(obj.id)
        elif isinstance(obj, ChannelIdentity):
            history = inspect(obj).attrs.person_id.history
            ids = (*history.unchanged, *history.added, *history.deleted)
            if not ids or None in ids:
                return None  # expired or not yet set: whose it is cannot be told
            found.update(int(i) for i in ids)
    return found


def _pending(session: Session) -> set[int] | None:
    return _changed_people((*session.new, *session.dirty, *session.deleted))


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(MEMO):
        _forget(session, _pending(session))


@watches_writes
def _executing(
    session: Session, table: str, is_insert: bool, listed: list[Mapping[str, Any]]
) -> None:
    if table not in _TABLES or not session.info.get(MEMO):
        return
    if is_insert and table == "people":
        return  # a new person is in no answer kept, and joins a group by another table
    if is_insert and listed and all(r.get("person_id") is not None for r in listed):
        _forget(session, (int(r["person_id"]) for r in listed))
        return
    _forget(session, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    # Savepoints too (what a rolled-back one read or wrote is not kept), but not the
    # subtransaction each flush runs in.
    if transaction.nested or transaction.parent is None:
        session.info.pop(MEMO, None)


async def kept(
    session: AsyncSession,
    key: Hashable,
    load: Callable[[], Awaitable[T]],
    people: Callable[[T], Iterable[int]],
    *,
    config: bool = False,
) -> T:
    """The answer kept under `key`, else `load()`'s, kept while `people(answer)` are unchanged.

    `config` also ties it to the configuration (a group's members): the unit of work that
    changes any of it reads afresh.
    """
    sync = session.sync_session
    memo = _memo(sync)
    if memo:
        _forget(sync, _pending(sync))
    if config and not config_settled(session):
        return await load()
    found = memo.get(key)
    if found is not None:
        value: T = found.value
        return value
    value = await load()
    # The load's own autoflush may have dropped the memo: keep the answer in the live one.
    _memo(sync)[key] = _Kept(value, frozenset(people(value)), config)
    return value


async def channels(session: AsyncSession, person_id: int) -> tuple[Channel, ...]:
    """Every channel account of a person, most recently seen first, then oldest first.

    One statement serves both questions a notice asks (where they last wrote, where the
    bot may write first), once per unit of work.
    """

    async def load() -> tuple[Channel, ...]:
        rows = await _CHANNELS.rows(session, {"person_id": person_id})
        return tuple(Channel(*row) for row in rows)

    return await kept(session, ("channels", person_id), load, lambda _: (person_id,))


_CHANNELS = Direct(
    select(
        ChannelIdentity.platform,
        ChannelIdentity.external_id,
        ChannelIdentity.verified,
        ChannelIdentity.last_address,
        ChannelIdentity.last_seen_at,
    )
    .where(ChannelIdentity.person_id == bindparam("person_id"))
    .order_by(ChannelIdentity.last_seen_at.desc().nulls_last(), ChannelIdentity.id)
    .execution_options(**reads("channel_identities"))
)
