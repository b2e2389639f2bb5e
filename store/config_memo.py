"""Desk configuration read once per unit of work, unless the unit of work changes it.

Every new ticket asks the same questions of the desk configuration: the service desk group,
the service-level agreements, a group's language, what a service depends on. A worker
transaction handles a batch of events, so repositories keep the answers for the rest of
their unit of work (`ConfigMemo`). A unit of work that writes any configuration table, or
holds a changed configuration row not yet flushed, reads afresh from then on, so what it
wrote is what it reads. Other transactions start with an empty memo, so a change committed
elsewhere (the desk file, the API) is seen by the next unit of work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")

CONFIG_TABLES = frozenset(
    {
        "business_calendars",
        "cursors",
        "group_members",
        "groups",
        "person_skills",
        # A known error is a problem whose record reached that stage: the record decides.
        "problem_records",
        "service_levels",
        "service_links",
        "services",
        "suppliers",
    }
)
"""Tables whose rows the memo may keep: changed by people and the desk file, not by messages."""

WRITTEN = "switchboard.config_written"
"""`session.info` key: this transaction wrote a configuration table."""


def _config_rows(objs: Iterable[Any]) -> bool:
    return any(getattr(getattr(o, "__table__", None), "name", None) in CONFIG_TABLES for o in objs)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    if _config_rows(session.new) or _config_rows(session.dirty) or _config_rows(session.deleted):
        session.info[WRITTEN] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in CONFIG_TABLES:
            state.session.info[WRITTEN] = True


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(WRITTEN, None)


def config_settled(session: AsyncSession) -> bool:
    """True while this unit of work has neither written nor changed a configuration row."""
    sync = session.sync_session
    if sync.info.get(WRITTEN):
        return False
    return not (_config_rows(sync.new) or _config_rows(sync.dirty) or _config_rows(sync.deleted))


class ConfigMemo:
    """Answers about the configuration, kept for one unit of work while it leaves it alone."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._known: dict[Hashable, Any] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The answer kept under `key`, else `load()`'s (kept while nothing was changed)."""
        if not config_settled(self.session):
            self._known.clear()
            return await load()
        if key in self._known:
            found: T = self._known[key]
            return found
        value = await load()
        if config_settled(self.session):
            self._known[key] = value
        return value

    def clear(self) -> None:
        """Forget every answer (after a write through the repository that keeps them)."""
        self._known.clear()
