"""Writes on the per-message path as SQLAlchemy Core statements, with ORM objects to hand back.

The ORM's unit of work costs more per row than the rest of a message's handling, so rows
every message writes (tickets, their events, new contacts) go in as Core `INSERT`s. Rows a
handler changes afterwards are handed back as ordinary persistent ORM objects, attached to
the session as if just loaded, so later changes are still versioned `UPDATE`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Table, event, insert
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, ORMExecuteState, Session, configure_mappers
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.base import manager_of_class

T = TypeVar("T")

INSERTED = "switchboard.inserted"
"""`session.info` key: the objects whose rows went in as Core INSERTs in this transaction.

They never appear in `session.new`, so listeners that count or announce new rows (metrics,
the console's live news) read them here at commit; the list ends with the transaction.
"""


def _inserted(session: Session, objs: Sequence[Any]) -> None:
    session.info.setdefault(INSERTED, []).extend(objs)


READS = "switchboard_reads"
"""Execution option: the tables an ORM query reads (`reads()`), so its autoflush may leave
rows queued for other tables to a later flush."""


def reads(*tables: str) -> dict[str, frozenset[str]]:
    """Execution options declaring every table a statement reads, eager loads included.

    The autoflush before such a query writes the ORM's own changes as usual but leaves the
    rows queued with `queue_insert` for tables it does not read, so a batch's events and
    roles still go in as one INSERT each. Declare only columns-only queries or entities
    with no joined eager loads: a table left out would be read without its queued rows.
    """
    return {READS: frozenset(tables)}


def written_table(state: ORMExecuteState) -> str | None:
    """The table an INSERT, UPDATE or DELETE run through a session writes; None for a query.

    What the session's memos (configuration, recipients, recurrence, outages) watch for a
    write that bypasses the unit of work's objects.
    """
    if not (state.is_insert or state.is_update or state.is_delete):
        return None
    name: str | None = getattr(getattr(state.statement, "table", None), "name", None)
    return name


def given_rows(state: ORMExecuteState) -> list[Mapping[str, Any]]:
    """The parameter rows an execution was given: none, one mapping, or a list of them."""
    given = state.parameters
    if not given:
        return []
    return [given] if isinstance(given, Mapping) else list(given)


WriteWatcher = Callable[[Session, str, bool, list[Mapping[str, Any]]], None]
"""Told of a write that bypasses the unit of work's objects: the session, the table written,
whether it was an INSERT, and the parameter rows it was given."""

_WRITE_WATCHERS: list[WriteWatcher] = []


def watches_writes(watcher: WriteWatcher) -> WriteWatcher:
    """Register `watcher` for every Core write, through a session or `store.direct`."""
    _WRITE_WATCHERS.append(watcher)
    return watcher


def announce_write(
    session: Session, table: str, is_insert: bool, rows: list[Mapping[str, Any]]
) -> None:
    """Tell the write watchers (the session's memos) of a write made without the ORM."""
    for watcher in _WRITE_WATCHERS:
        watcher(session, table, is_insert, rows)


@event.listens_for(Session, "do_orm_execute")
def _announce_session_write(state: ORMExecuteState) -> None:
    table = written_table(state)
    if table is not None:
        announce_write(state.session, table, state.is_insert, given_rows(state))


class WriteBehindSession(Session):
    """A session that writes rows queued with `queue_insert` in one multi-row Core INSERT.

    Queued rows go in at every flush, after the ORM's own changes (they may refer to those
    rows), so autoflush writes them before any query reads their table, and `commit()`
    writes them before it commits. A rollback forgets them. The autoflush of a query that
    declares what it reads (`reads()`) leaves them queued unless it reads their table.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queued: dict[Insert, tuple[Sequence[str], list[Any]]] = {}
        self._reads: frozenset[str] | None = None
        self._holding = False

    def queue_insert(self, stmt: Insert, keys: Sequence[str], obj: Any) -> None:
        """Insert `obj`'s attributes `keys` at the next flush.

        A `stmt` returning the new id (`returning_ids`) sets `obj.id`. One returning nothing
        suits rows keyed by their columns whose objects are already persistent in the
        session (a new person's roles): as the ORM may change or delete those, their rows
        go in before the ORM's own changes whenever a flush has any.
        """
        self._queued.setdefault(stmt, (keys, []))[1].append(obj)

    def queues_for(self, tables: frozenset[str]) -> bool:
        """Whether rows are queued for any of `tables`."""
        return any(stmt.table.name in tables for stmt in self._queued)

    def autoflush_reading(self, tables: frozenset[str]) -> None:
        """Autoflush as before a query that declares it reads `tables` (`reads()`)."""
        self._reads = tables
        self._autoflush()

    def _autoflush(self) -> None:
        declared, self._reads = self._reads, None
        if declared is not None and self._queued:
            self._holding = not self.queues_for(declared)
        try:
            super()._autoflush()
        finally:
            self._holding = False

    def flush(self, objects: Sequence[Any] | None = None) -> None:
        """Flush the ORM's changes, then write the queued rows as multi-row INSERTs."""
        if self._queued and not self._is_clean():
            self._write_queued(persistent_only=True)
        super().flush(objects)
        if self._queued and not self._holding:
            self._write_queued()

    def _write_queued(self, *, persistent_only: bool = False) -> None:
        queued = self._queued
        if persistent_only:
            queued = {s: q for s, q in queued.items() if not s._returning}
            self._queued = {s: q for s, q in self._queued.items() if s._returning}
        else:
            self._queued = {}
        # No autoflush for these INSERTs: ahead of the ORM's changes it would flush those first
        # (deleting a role whose row is still queued, say).
        with self.no_autoflush:
            for stmt, (keys, objs) in queued.items():
                # Read at flush time: a caller may still set a value (`event.at = now`).
                rows = [{k: getattr(o, k) for k in keys} for o in objs]
                if not stmt._returning:
                    self.execute(stmt, rows)
                    continue
                ids = insert_many(self, stmt, rows)
                for obj, new_id in zip(objs, ids, strict=True):
                    obj.id = new_id
                _inserted(self, objs)

    def forget_queued(self) -> None:
        """Drop the queued rows unwritten, as a rollback does."""
        self._queued = {}


@event.listens_for(WriteBehindSession, "do_orm_execute")
def _note_reads(state: ORMExecuteState) -> None:
    # Runs before the statement's autoflush, which takes the declaration (`_autoflush`).
    session = state.session
    if not isinstance(session, WriteBehindSession):
        return
    stmt = state.statement
    if state.is_insert and isinstance(stmt, Insert) and stmt.select is None:
        # An INSERT of values reads only its own table (its unique indexes): the queued rows
        # of other tables cannot be what it refers to, as none of them has an id yet.
        session._reads = frozenset({stmt.table.name})
    elif state.is_insert:
        session._reads = None
    else:
        # A query, or an UPDATE or DELETE that declares the tables it reads (its own too).
        session._reads = state.execution_options.get(READS)


@event.listens_for(WriteBehindSession, "before_commit")
def _write_before_commit(session: Session) -> None:
    # The commit flushes only when the ORM has changes of its own.
    if isinstance(session, WriteBehindSession) and session._queued:
        session._write_queued()


@event.listens_for(WriteBehindSession, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: Any) -> None:
    if isinstance(session, WriteBehindSession):
        session.forget_queued()


@event.listens_for(Session, "after_transaction_end")
def _forget_inserted(session: Session, transaction: Any) -> None:
    # After the commit's listeners have read them; a rollback drops them the same way.
    if transaction.parent is None:
        session.info.pop(INSERTED, None)


def queue_insert(session: AsyncSession, stmt: Insert, keys: Sequence[str], obj: Any) -> None:
    """Queue `obj` for a multi-row INSERT at the session's next flush (`WriteBehindSession`)."""
    sync = session.sync_session
    if not isinstance(sync, WriteBehindSession):
        raise TypeError("the session factory must use WriteBehindSession")
    sync.queue_insert(stmt, keys, obj)


_UNORDERED: dict[Insert, Insert] = {}
"""An `INSERT ... RETURNING id` that keeps its rows' order, and the same one that does not."""

_MANY_DIRECT: dict[Insert, Any] = {}
"""Per `returning_ids` statement, its `store.direct.DirectInsertMany` (SQLite)."""


def returning_ids(table: Table) -> Insert:
    """`INSERT ... RETURNING id` for many rows at once, the ids in the rows' order."""
    ordered = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    _UNORDERED[ordered] = insert(table).returning(table.c.id)
    return ordered


def insert_many(session: Session, stmt: Insert, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert `rows` with `stmt` (from `returning_ids`); their new ids, in the rows' order.

    SQLite does not promise to return the rows of a multi-row INSERT in the order they were
    listed, so SQLAlchemy sends one INSERT per row when asked to keep that order. SQLite
    does give the rows of one INSERT ascending ids in the order they are listed (each one
    more than the largest before it), so there the rows go in one statement and the ids
    returned are sorted back into the rows' order.
    """
    unordered = _UNORDERED.get(stmt)
    if unordered is not None and session.get_bind().dialect.name == "sqlite":
        direct = _MANY_DIRECT.get(stmt)
        if direct is None:
            from store.direct import DirectInsertMany

            direct = _MANY_DIRECT[stmt] = DirectInsertMany(stmt.table)  # type: ignore[arg-type]
        found = direct.ids(session, rows)
        if found is not None:
            return found
        if len(rows) > 1:
            return sorted(int(i) for i in session.execute(unordered, list(rows)).scalars())
    return [int(i) for i in session.execute(stmt, list(rows)).scalars()]


class CoreInsert:
    """One table's hot-path INSERT: built once, so its compiled form is cached once.

    `values(**given)` completes a row with the columns' Python defaults, as the ORM would
    at flush; `attach()` turns an inserted row into a persistent ORM object without a load.
    """

    def __init__(self, model: type[Any]) -> None:
        self.model = model
        self.table = cast(Table, model.__table__)
        self.manager = manager_of_class(model)
        self._configured = False
        self.pk = self.table.c.id
        self.returning_id = insert(self.table).returning(self.pk)
        self.many_returning_id = returning_ids(self.table)
        self.keys = tuple(c.key for c in self.table.columns if c is not self.pk)
        self._direct: Any = None
        self._new_direct: dict[tuple[str, tuple[str, ...]], Any] = {}
        self._fixed: dict[str, Any] = {}
        self._computed: dict[str, Callable[[], Any]] = {}
        for c in self.table.columns:
            if c is self.pk:
                continue
            default = c.default
            if default is None or not hasattr(default, "arg"):
                self._fixed[c.key] = None
            elif getattr(default, "is_callable", False):
                self._computed[c.key] = _no_ctx(default.arg)
            else:
                self._fixed[c.key] = default.arg

    def values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """A full row from the given columns, filling fixed and computed defaults."""
        unknown = set(given) - set(self.keys)
        if unknown:
            raise TypeError(f"{self.model.__name__} has no column {sorted(unknown)[0]!r}")
        row = dict(self._fixed)
        for key, fn in self._computed.items():
            if key not in given:
                row[key] = fn()
        row.update(given)
        return row

    async def insert(self, session: AsyncSession, row: Mapping[str, Any]) -> int:
        """Insert a full row (`values`) and return its new id, in one statement."""
        if self._direct is None:
            # Imported here: `store.direct` announces its writes through this module.
            from store.direct import Direct

            self._direct = Direct(self.returning_id, self.keys)
        return int((await self._direct.rows(session, row))[0][0])

    async def insert_new(
        self, session: AsyncSession, row: Mapping[str, Any], *unique: str
    ) -> int | None:
        """Insert a full row unless one with the same `unique` columns exists: its new id.

        None when the row exists (`ON CONFLICT DO NOTHING`), also when another transaction
        inserted it at the same moment.
        """
        key = (session.get_bind().dialect.name, unique)
        direct = self._new_direct.get(key)
        if direct is None:
            from store.direct import Direct

            stmt = insert_new_returning_id(session, self.table, *unique)
            direct = self._new_direct[key] = Direct(stmt, self.keys)
        found = await direct.rows(session, row)
        return int(found[0][0]) if found else None

    def attach(self, session: AsyncSession, new_id: int, row: Mapping[str, Any]) -> Any:
        """The inserted row as a persistent object of this session, its columns loaded."""
        if not self._configured:
            # A constructor would configure the mappers on first use; `new_instance` does not.
            configure_mappers()
            self._configured = True
        obj = self.manager.new_instance()
        # Put straight into the instance's dict, as a load does: the constructor would run
        # an attribute event for each of some thirty columns only to record history that
        # `attach` then discards.
        obj.__dict__.update(row)
        obj.__dict__["id"] = new_id
        return attach(session, obj)


_MAPPERS_CONFIGURED = False


def unsaved(model: type[T], values: Mapping[str, Any]) -> T:
    """A new object of `model` holding `values`, for rows written by Core (`queue_insert`).

    As its constructor would make it, but without an attribute event for each value: a
    message queues several such rows, and the events record history that no flush reads.
    """
    global _MAPPERS_CONFIGURED
    if not _MAPPERS_CONFIGURED:
        # A constructor would configure the mappers on first use; `new_instance` does not.
        configure_mappers()
        _MAPPERS_CONFIGURED = True
    obj: T = manager_of_class(model).new_instance()
    obj.__dict__.update(values)
    return obj


def attach(session: AsyncSession, obj: T) -> T:
    """`obj`, whose row was just inserted, as a persistent object of `session` with no load.

    Its column values count as loaded; a relationship not set with `set_committed_value`
    loads (or raises) on first use, as after any query.
    """
    state = instance_state(obj)
    if state.key is not None or state.session_id is not None:
        raise InvalidRequestError("Given object must be transient")
    _to_detached(state)
    _join(session.sync_session, obj)
    _inserted(session.sync_session, [obj])
    return obj


def loaded(session: AsyncSession, model: type[T], values: Mapping[str, Any]) -> T:
    """A row a Core query read, as the persistent object of `session` the ORM would load.

    The session's own object of that identity, when it holds one, comes back with only its
    unloaded attributes filled in, as a load does; otherwise a new one holds `values`, the
    attributes not among them unloaded. Relationships are the caller's to set (with
    `set_committed_value`).
    """
    sync = session.sync_session
    mapper = manager_of_class(model).mapper
    key = mapper.identity_key_from_primary_key(
        tuple(values[str(c.key)] for c in mapper.primary_key)
    )
    present = sync.identity_map.get(key)
    if present is not None:
        # As a load fills what the session's object lacks (expired, never loaded) and
        # leaves the rest, which may hold changes not yet flushed.
        state = instance_state(present)
        for name in state.unloaded & values.keys():
            set_committed_value(present, name, values[name])
        return present
    obj = unsaved(model, values)
    _to_detached(instance_state(obj), key)
    _join(sync, obj)
    return obj


def adopt(session: Session, obj: Any, key: Any) -> None:
    """Make `obj`, new and holding a row's committed columns, the persistent object `key`.

    As `Session.merge(..., load=False)` of a detached copy would, without comparing or
    copying attribute by attribute: relationships set beforehand (`set_committed_value`)
    count as loaded, the rest load on first use.
    """
    _to_detached(instance_state(obj), key)
    _join(session, obj)


def _to_detached(state: InstanceState[Any], key: Any = None) -> None:
    """As `make_transient_to_detached` does to a new object made here, at less cost.

    The identity key is taken as given when the caller made it already, and the attributes
    left unloaded (to load on first use) are known by the keys the object was made with:
    a handful of shapes, each worked out once, where the ORM compares every attribute of
    the class for every object.
    """
    state.key = state.mapper._identity_key_from_state(state) if key is None else key
    held = state.dict
    state._commit_all(held)
    shape = (state.class_, tuple(held))
    unloaded = _UNLOADED.get(shape)
    if unloaded is None:
        unloaded = frozenset(state.manager.keys()) - frozenset(held)
        if len(_UNLOADED) < 1024:
            _UNLOADED[shape] = unloaded
    if unloaded:
        state._expire_attributes(held, unloaded)


_UNLOADED: dict[tuple[type, tuple[str, ...]], frozenset[str]] = {}


_RELATIONSHIPS: dict[type, tuple[str, ...]] = {}


def _join(session: Session, obj: Any) -> None:
    """Make the detached `obj` persistent in `session`, as `Session.add` would.

    Without `add`'s cascade when none of the object's relationships is set yet: the cascade
    walks every relationship of the mapper (a ticket has a dozen) to find nothing to add.
    The object is registered as the ORM's loader registers a row it read; with an attach
    listener, or a relationship set, it gets the full `add`.
    """
    cls = type(obj)
    related = _RELATIONSHIPS.get(cls)
    if related is None:
        related = _RELATIONSHIPS[cls] = tuple(manager_of_class(cls).mapper.relationships.keys())
    state = instance_state(obj)
    dispatch = session.dispatch
    if (
        state.session_id is not None
        or any(key in state.dict for key in related)
        or dispatch.before_attach
        or dispatch.after_attach
        or dispatch.detached_to_persistent
    ):
        session.add(obj)
        return
    # Raises, as `add` does, when the session holds another object with this identity.
    session.identity_map.add(state)
    state.session_id = session.hash_key


def insert_of(dialect: str) -> Callable[..., Any]:
    """`dialect`'s own `insert` (for `ON CONFLICT`): PostgreSQL's or SQLite's."""
    if dialect == "postgresql":
        return postgresql.insert
    # Imported on first use: a PostgreSQL deployment never loads the SQLite dialect.
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def dialect_insert(session: AsyncSession, table: Table) -> Any:
    """The dialect's `INSERT` for `table` (for `ON CONFLICT`): PostgreSQL's or SQLite's."""
    return insert_of(session.get_bind().dialect.name)(table)


_INSERT_NEW: dict[tuple[str, str, tuple[str, ...]], Any] = {}


def insert_new_returning_id(session: AsyncSession, table: Table, *unique: str) -> Any:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING id` for `table`, built once.

    The id comes back only when the row is new; a conflict returns no row.
    """
    key = (session.get_bind().dialect.name, table.name, unique)
    stmt = _INSERT_NEW.get(key)
    if stmt is None:
        stmt = (
            dialect_insert(session, table)
            .on_conflict_do_nothing(index_elements=[table.c[c] for c in unique])
            .returning(table.c.id)
        )
        _INSERT_NEW[key] = stmt
    return stmt


def _no_ctx(fn: Callable[[Any], T]) -> Callable[[], T]:
    # SQLAlchemy wraps a zero-argument default to take the execution context; none is needed.
    return lambda: fn(None)
