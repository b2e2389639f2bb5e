"""Desk configuration read once per unit of work, unless the unit of work changes it.

Every new ticket asks the same questions of the desk configuration: the service desk group,
the service-level agreements, a group's language, what a service depends on. A worker
transaction handles a batch of events, so repositories keep the answers for the rest of
their unit of work (`ConfigMemo`). A unit of work that writes any configuration table, or
holds a changed configuration row not yet flushed, reads afresh from then on, so what it
wrote is what it reads. Other transactions start with an empty memo, so a change committed
elsewhere (the desk file, the API) is seen by the next unit of work.

The worker cuts a claimed batch into short transactions (a few events each on SQLite while
webhooks arrive), and each would read the same configuration again. A `CarriedConfig` made
for one batch hands the answers of a unit of work that committed without touching the
configuration to the next one; any configuration write forgets them all. It lives no longer
than its batch, so a change committed elsewhere is seen by the next batch.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Awaitable, Callable, Hashable, Iterable
from decimal import Decimal
from enum import Enum
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value

from store.hotpath import adopt, watches_writes

T = TypeVar("T")

CONFIG_TABLES = frozenset(
    {
        "calendars",
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

CARRIED = "switchboard.config_carried"
"""`session.info` key: the `_Taking` of a unit of work that carries its batch's answers."""


_IS_CONFIG: dict[type, bool] = {}


def _config_class(cls: type) -> bool:
    found = _IS_CONFIG.get(cls)
    if found is None:
        found = _IS_CONFIG[cls] = (
            getattr(getattr(cls, "__table__", None), "name", None) in CONFIG_TABLES
        )
    return found


def _holds_config_changes(session: Session) -> bool:
    """Whether the session holds a new, changed or deleted configuration row not yet flushed.

    Asked by every memo question, over all that a batch's unit of work holds: the session's
    own collections of states are read, as `session.new`, `.dirty` and `.deleted` build a
    new set on every access, and each class is looked up once.
    """
    known = _IS_CONFIG
    for state in chain(session._new, session.identity_map._modified, session._deleted):
        cls = state.class_
        found = known.get(cls)
        if found is None:
            found = _config_class(cls)
        if found:
            return True
    return False


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    if _holds_config_changes(session):
        _written(session)


@watches_writes
def _executing(session: Session, table: str, _is_insert: bool, _rows: Any) -> None:
    if table in CONFIG_TABLES:
        _written(session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: Any) -> None:
    # Rows read before a rollback may be expired or hold undone changes: none of this
    # unit of work's answers may go on, though what earlier ones handed over still holds.
    taking = session.info.get(CARRIED)
    if isinstance(taking, _Taking):
        taking.offered.clear()
        taking.spoiled = True


def _written(session: Session) -> None:
    session.info[WRITTEN] = True
    taking = session.info.get(CARRIED)
    if isinstance(taking, _Taking):
        taking.spoil()


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(WRITTEN, None)


def config_settled(session: AsyncSession) -> bool:
    """True while this unit of work has neither written nor changed a configuration row."""
    sync = session.sync_session
    if sync.info.get(WRITTEN):
        return False
    return not _holds_config_changes(sync)


_PLAIN = (str, int, float, bool, bytes, Enum, Decimal, dt.date, dt.time, dt.timedelta)


def _carriable(value: Any) -> bool:
    """Whether an answer can outlive its session: plain values, clean configuration rows."""
    if value is None or isinstance(value, _PLAIN):
        return True
    if isinstance(value, list | tuple | frozenset):
        return all(_carriable(v) for v in value)
    if isinstance(value, dict):
        return all(_carriable(k) and _carriable(v) for k, v in value.items())
    state = inspect(value, raiseerr=False)
    if state is None or getattr(state, "mapper", None) is None:
        return False
    if state.mapper.local_table.name not in CONFIG_TABLES:
        return False
    if not state.persistent or state.modified or state.expired_attributes:
        return False
    # A loaded relationship goes along with the row when it is attached: it must qualify too.
    for relation in state.mapper.relationships:
        if relation.key in state.dict and not _carriable(state.dict[relation.key]):
            return False
    return True


def _snapshot(value: Any) -> Any:
    """A carriable answer as it is now, its rows copied out of the session that read them.

    The reader goes on using its own rows; whatever it does to them, even in place, the
    copy keeps what was read. An answer without rows is kept as `_Plain`, copied for each
    reader the cheapest way its shape allows.
    """
    if not _holds_rows(value):
        return _Plain(copy.deepcopy(value))
    return _rows_snapshot(value)


def _rows_snapshot(value: Any) -> Any:
    if isinstance(value, list):
        return [_rows_snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_rows_snapshot(v) for v in value)
    if isinstance(value, dict):
        return {k: _rows_snapshot(v) for k, v in value.items()}
    if value is None or isinstance(value, (*_PLAIN, frozenset)):
        return value
    state = instance_state(value)
    row = _columns_copied(state)
    for key in _shape(state.mapper)[2]:
        if key in state.dict:
            set_committed_value(row, key, _rows_snapshot(state.dict[key]))
    make_transient_to_detached(row)
    return row


def _holds_rows(value: Any) -> bool:
    if isinstance(value, list | tuple | frozenset):
        return any(_holds_rows(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_rows(v) for v in value.values())
    return not (value is None or isinstance(value, _PLAIN))


class _Plain:
    """A carried answer with no rows in it, and how to hand each reader its own copy.

    A dict or list of scalars (the services' name index) is copied in one call; one with a
    container inside is copied deeply, as is a tuple holding one; anything else cannot be
    changed in place and is handed out as it is.
    """

    __slots__ = ("copy", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.copy: Callable[[Any], Any]
        if isinstance(value, dict):
            self.copy = dict.copy if _flat(value.values()) else copy.deepcopy
        elif isinstance(value, list):
            self.copy = list.copy if _flat(value) else copy.deepcopy
        elif isinstance(value, tuple | frozenset):
            self.copy = _same if _flat(value) else copy.deepcopy
        else:
            self.copy = _same

    def give(self) -> Any:
        return self.copy(self.value)


def _flat(values: Iterable[Any]) -> bool:
    return not any(isinstance(v, _CONTAINERS) for v in values)


_CONTAINERS = (list, dict, tuple, set, frozenset)


def _same(value: Any) -> Any:
    return value


_SHAPES: dict[Any, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _shape(mapper: Mapper[Any]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """A mapper's column keys, the keys of those holding mutable values, its relationships.

    Worked out once per mapper: JSON (its Python type is `object`), and any type whose
    values are not known to be immutable, is copied for each reader; the rest are handed
    over as they are.
    """
    found = _SHAPES.get(mapper)
    if found is None:
        columns = tuple(c.key for c in mapper.column_attrs)
        mutable = tuple(c.key for c in mapper.column_attrs if _mutable(c.columns[0].type))
        relations = tuple(r.key for r in mapper.relationships)
        found = _SHAPES[mapper] = (columns, mutable, relations)
    return found


def _mutable(column_type: Any) -> bool:
    try:
        python = column_type.python_type
    except NotImplementedError:
        return True
    return not (isinstance(python, type) and issubclass(python, _PLAIN))


def _attach(session: Session, value: Any) -> Any:
    """A carried answer for `session`: its rows attached without SQL, containers copied."""
    if isinstance(value, _Plain):
        return value.give()
    if isinstance(value, list):
        return [_attach(session, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_attach(session, v) for v in value)
    if isinstance(value, dict):
        return {k: _attach(session, v) for k, v in value.items()}
    if value is None or isinstance(value, (*_PLAIN, frozenset)):
        return value
    state = instance_state(value)
    identity = state.key
    # The session's own copy, when it has one, stays as it is: it may be fresher.
    present = session.identity_map.get(identity) if identity is not None else None
    if present is not None:
        return present
    # As `Session.merge(value, load=False)` would make it, at a fraction of the cost: the
    # carried row's loaded columns copied into a new object of this session (JSON values
    # copied too, so a change made in place, untracked and never written, stays with this
    # unit of work), its loaded relationships attached the same way.
    row = _columns_copied(state)
    for key in _shape(state.mapper)[2]:
        if key in state.dict:
            set_committed_value(row, key, _attach(session, state.dict[key]))
    adopt(session, row, identity)
    return row


def _columns_copied(state: Any) -> Any:
    """A new, transient object of the row's class holding its loaded columns' values.

    Put straight into the object's dict, as a load does; the values that can change in
    place (JSON) are copied deeply, so neither side sees what the other does to them.
    """
    columns, mutable, _ = _shape(state.mapper)
    held = state.dict
    row = state.manager.new_instance()
    mine = row.__dict__
    for key in columns:
        if key in held:
            mine[key] = held[key]
    for key in mutable:
        if key in held:
            mine[key] = copy.deepcopy(held[key])
    return row


class CarriedConfig:
    """Configuration answers handed from one unit of work to the next, for one batch.

    A unit of work joins it (`UnitOfWork(factory, carry=...)`); its memos answer from what
    earlier ones committed and offer what they read. The offers are kept when the unit of
    work commits having written no configuration; a configuration write anywhere forgets
    everything. Only plain values and clean configuration rows are carried; the rows are
    attached to the next session as they were, without SQL.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[str, Hashable], Any] = {}
        self._generation = 0

    def __len__(self) -> int:
        return len(self._known)

    def join(self, session: AsyncSession) -> None:
        """Let the memos of the unit of work on `session` answer from and offer to this."""
        session.info[CARRIED] = _Taking(self)

    def forget(self) -> None:
        """Drop every answer, and any a unit of work now open would hand over."""
        self._known.clear()
        self._generation += 1

    @property
    def generation(self) -> int:
        """How many times everything was forgotten: answers read before are of no use."""
        return self._generation

    def answer(self, key: tuple[str, Hashable]) -> tuple[bool, Any]:
        """Whether an answer is carried under `key`, and it (as the session that read it had it)."""
        if key in self._known:
            return True, self._known[key]
        return False, None

    def keep(self, answers: dict[tuple[str, Hashable], Any], generation: int) -> None:
        """Carry `answers` (`_snapshot`s), read since `generation`, unless all was forgotten."""
        if generation == self._generation:
            self._known.update(answers)


class _Taking:
    """One unit of work's share of a `CarriedConfig`: what it read that may go on."""

    def __init__(self, carried: CarriedConfig) -> None:
        self.carried = carried
        self.generation = carried.generation
        self.offered: dict[tuple[str, Hashable], Any] = {}
        self.spoiled = False

    def spoil(self) -> None:
        self.spoiled = True
        self.offered.clear()
        self.carried.forget()

    def settle(self) -> None:
        if not self.spoiled:
            self.carried.keep(self.offered, self.generation)
        # A unit of work may go on in a new transaction: it starts from what is carried now.
        self.offered.clear()
        self.spoiled = False
        self.generation = self.carried.generation


def settle_carried(session: AsyncSession) -> None:
    """After a commit: hand what this unit of work read on to the next one of its batch."""
    taking = session.info.get(CARRIED)
    if isinstance(taking, _Taking):
        taking.settle()


class ConfigMemo:
    """Answers about the configuration, kept for one unit of work while it leaves it alone.

    A memo with a `carry` name also answers from, and offers to, the `CarriedConfig` its
    unit of work joined; the name keeps one repository's keys apart from another's.
    """

    def __init__(self, session: AsyncSession, carry: str | None = None) -> None:
        self.session = session
        self._known: dict[Hashable, Any] = {}
        taking = session.info.get(CARRIED) if carry is not None else None
        self._taking = taking if isinstance(taking, _Taking) else None
        self._carry = carry or ""

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The answer kept under `key`, else `load()`'s (kept while nothing was changed)."""
        if not config_settled(self.session):
            self._known.clear()
            if self._taking is not None:
                self._taking.spoil()
            return await load()
        if key in self._known:
            found: T = self._known[key]
            return found
        taking = self._taking
        carried = (self._carry, key)
        if taking is not None:
            found_carried, answer = taking.carried.answer(carried)
            if found_carried:
                attached: T = _attach(self.session.sync_session, answer)
                self._known[key] = attached
                return attached
        value = await load()
        if config_settled(self.session):
            self._known[key] = value
            if taking is not None and not taking.spoiled and _carriable(value):
                taking.offered[carried] = _snapshot(value)
        return value

    def clear(self) -> None:
        """Forget every answer (after a write through the repository that keeps them)."""
        self._known.clear()
        if self._taking is not None:
            self._taking.spoil()
