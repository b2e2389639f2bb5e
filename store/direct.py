"""The statements every message runs, sent straight to the driver in the session's transaction.

SQLAlchemy's execution of one statement (the session's bookkeeping, the execution context,
parameter and result processing, the result object) costs several times what the database
spends on it: a ticket `INSERT` takes ~150 µs through a session and ~15 µs on sqlite3. A
`Direct` statement is compiled by SQLAlchemy once per driver, so the SQL and the
conversion of every value are exactly what it would send, and then runs on the driver's
connection of the transaction the session holds: sqlite3 on the event loop's thread
(`store.sqlite_inline`), asyncpg through the adapter's own prepared-statement cache.

What a session execution does besides and still matters is kept: statement listeners
(`before_cursor_execute`, `after_cursor_execute`) hear the statement, a driver error is
raised as SQLAlchemy's (the unit of work's retry rules read those) with a lost connection
invalidated, and a write is announced to the session's write watchers
(`store.hotpath.announce_write`) as `do_orm_execute` would. A query's rows come back
through its columns' result processors, as a session's result would give them (an aware
datetime, an enum member, a parsed JSON value). A query that declares the tables it reads
(`store.hotpath.reads`) is autoflushed first as the session would autoflush it, and only when
the session holds changes or rows queued for those tables, which is what lets the reads a
batch makes of columns (a service's known errors, a group's owners, a person's channels)
skip the session's execution; no other statement is autoflushed, as none is before a Core
statement through a session. On a connection of another kind (an in-memory SQLite database,
a driver without the adapter's hooks) a `Direct` statement runs through the session as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.util.concurrency import await_, greenlet_spawn

from store.hotpath import READS, WriteBehindSession, announce_write

_UNSET = object()
# Expansions kept per statement: one for each length of its lists met, which the batch size
# bounds; past this, further shapes are expanded on every execution.
_PLANS = 256

# Where a value of an expanded statement comes from: the parameter, the list member and the
# member's element (a row of a tuple `IN`), its processor; or, with no parameter, a constant.
_Slot = tuple[str | None, int | None, int | None, Any, Any]


@dataclass(frozen=True, slots=True)
class _Marker:
    name: str
    i: int | None
    j: int | None


def _shape(value: Any) -> Any:
    """What the expansion of one list depends on: its length, and each row's for tuples."""
    if not isinstance(value, list | tuple):
        return None
    if value and isinstance(value[0], list | tuple):
        return tuple(len(v) if isinstance(v, list | tuple) else -1 for v in value)
    return len(value)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    processors: tuple[Any, ...]
    constants: Mapping[str, Any]
    # The result columns that need a processor, by position; None when none does.
    results: tuple[tuple[int, Any], ...] | None = None
    # A statement with expanding parameters (`IN` lists): its compiled form, expanded for
    # each execution's lists as the session's execution context would.
    expanding: Any = None
    # The expanding parameters' names, and the expansion made for each shape of their lists.
    lists: frozenset[str] = frozenset()
    row_lists: frozenset[str] = frozenset()
    bound: tuple[str, ...] = ()
    plans: dict[tuple[Any, ...], tuple[str, tuple[_Slot, ...]]] = field(default_factory=dict)

    def expand(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL and positional values for `params`, the lists' members bound one by one.

        SQLAlchemy's expansion (`construct_expanded_state`) renders the SQL and names every
        member afresh on each execution, though both depend only on which parameters are
        given and the lists' lengths: it runs once per shape, and what it made is kept as
        the place each value is taken from.
        """
        shape = tuple(
            (_shape(params[name]) if name in self.lists else True) if name in params else False
            for name in self.bound
        )
        plan = self.plans.get(shape)
        if plan is None:
            plan = self._plan(params)
            if plan is None:
                return self._expanded(params)
            if len(self.plans) < _PLANS:
                self.plans[shape] = plan
        sql, slots = plan
        values = []
        for name, i, j, process, constant in slots:
            if name is None:
                values.append(constant)
                continue
            value = params[name]
            if i is not None:
                value = value[i] if j is None else value[i][j]
            values.append(value if process is None else process(value))
        return sql, values

    def _expanded(self, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        state = self.expanding.construct_expanded_state(dict(params), escape_names=False)
        processors = self._processors(state)
        given = state.parameters
        values = []
        for name in state.positiontup or ():
            process = processors.get(name)
            values.append(given[name] if process is None else process(given[name]))
        return state.statement, values

    def _processors(self, state: Any) -> Mapping[str, Any]:
        """The bind processors by name, with those of the names an expansion made."""
        found: Mapping[str, Any] = self.expanding._bind_processors
        return {**found, **state.processors} if state.processors else found

    def _plan(self, params: Mapping[str, Any]) -> tuple[str, tuple[_Slot, ...]] | None:
        # Every given value is replaced by a marker naming where it sits, so the expanded
        # state says which value each position takes; what the statement holds itself
        # (a literal list, a default) comes back as a value and is kept processed. None
        # when a list is not one (a set, a generator), or when values are rendered into the
        # SQL itself (`literal_execute`): those are expanded every time.
        if self.expanding.literal_execute_params:
            return None
        marked: dict[str, Any] = {}
        for name, value in params.items():
            if name not in self.lists:
                marked[name] = _Marker(name, None, None)
            elif not isinstance(value, list | tuple):
                return None
            else:
                rows = name in self.row_lists
                marked[name] = [
                    tuple(_Marker(name, i, j) for j in range(len(v)))
                    if rows and isinstance(v, list | tuple)
                    else _Marker(name, i, None)
                    for i, v in enumerate(value)
                ]
        state = self.expanding.construct_expanded_state(marked, escape_names=False)
        processors = self._processors(state)
        slots: list[_Slot] = []
        for position in state.positiontup or ():
            given = state.parameters[position]
            process = processors.get(position)
            if isinstance(given, _Marker):
                slots.append((given.name, given.i, given.j, process, None))
            elif isinstance(given, tuple) and any(isinstance(g, _Marker) for g in given):
                return None
            else:
                slots.append((None, None, None, None, given if process is None else process(given)))
        return state.statement, tuple(slots)

    def rows(self, found: Sequence[Any]) -> Sequence[Any]:
        results = self.results
        if results is None:
            return found
        made = []
        for row in found:
            values = list(row)
            for at, process in results:
                values[at] = process(values[at])
            made.append(tuple(values))
        return made

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = params.get(name, _UNSET)
            if value is _UNSET:
                value = self.constants.get(name, _UNSET)
                if value is _UNSET:
                    # No default is computed here, as none would be below the session.
                    raise KeyError(f"the statement needs a value for {name!r}")
            values.append(value if process is None else process(value))
        return values


class Direct:
    """A Core statement (or `text()`) run on the driver's connection; see the module.

    `keys` are the columns an `INSERT` is given (all of them, every time); a query's
    parameters are its bind names, an expanding (`IN`) one given as a list.
    """

    def __init__(self, stmt: Executable, keys: Sequence[str] | None = None) -> None:
        self.stmt = stmt
        self.keys = list(keys) if keys is not None else None
        self._compiled: dict[str, _Compiled] = {}
        self.table: str | None = getattr(getattr(stmt, "table", None), "name", None)
        self.is_insert = bool(getattr(stmt, "is_insert", False))
        self.is_dml = bool(getattr(stmt, "is_dml", False))
        self.reads: frozenset[str] | None = (
            stmt.get_execution_options().get(READS) if isinstance(stmt, Select) else None
        )

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.driver)
        if found is None:
            found = self._compile(dialect)
            self._compiled[dialect.driver] = found
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        columns = set(getattr(getattr(self.stmt, "table", None), "c", {}).keys())
        unknown = set(self.keys or ()) - columns
        if unknown:
            raise TypeError(f"{self.table} has no column {sorted(unknown)[0]!r}")
        compiled: Any = cast(ClauseElement, self.stmt).compile(
            dialect=dialect, column_keys=self.keys
        )
        names = tuple(compiled.positiontup or ())
        if compiled.escaped_bind_names:
            raise TypeError("a direct statement takes plain, named parameters only")
        # Lists bound member by member, and values rendered into the SQL (`literal_execute`),
        # both filled in for each execution.
        late = compiled.post_compile_params or compiled.literal_execute_params
        expanding = compiled if late else None
        lists = {compiled.bind_names[p]: p.type for p in compiled.post_compile_params}
        # Lists whose members SQLAlchemy expands as rows of a tuple `IN`.
        row_lists = frozenset(n for n, t in lists.items() if t._is_tuple_type or t._isnull)
        if expanding is not None and self.keys is not None:
            raise TypeError("an INSERT's columns cannot take expanding parameters")
        processors = compiled._bind_processors
        # Values the statement holds itself (a literal); a column's value is always given.
        constants = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if name not in columns and bind.value is not None
        }
        results = tuple(
            column.type._cached_result_processor(dialect, None)
            for column in compiled._result_columns
        )
        return _Compiled(
            compiled.string,
            names,
            tuple(processors.get(n) for n in names),
            constants,
            tuple((at, p) for at, p in enumerate(results) if p is not None) or None,
            expanding,
            frozenset(lists),
            row_lists,
            tuple(dict.fromkeys(compiled.bind_names.values())),
        )

    async def rows(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Any]:
        """Run the statement with `params` in the session's transaction; its rows."""
        if self.reads is not None:
            await _autoflush(session.sync_session, self.reads)
        conn = _held_connection(session)
        if conn is None:
            conn = cast(Connection, (await session.connection()).sync_connection)
        adapted = conn.connection.dbapi_connection
        run = _runner(adapted)
        if run is None:
            return list(await session.execute(self.stmt, dict(params)))
        compiled = self._for(conn.dialect)
        if compiled.expanding is None:
            sql, args = compiled.sql, compiled.args(params)
        else:
            sql, args = compiled.expand(params)
        events = conn._has_events or conn.engine._has_events
        if events:
            conn.dispatch.before_cursor_execute(conn, None, sql, args, None, False)
        try:
            found: Sequence[Any] = await run(adapted, sql, args, conn.dialect)
        except Exception as error:
            await greenlet_spawn(_raise_as_sqlalchemy, conn, error, sql, args)
            raise  # not reached: the line above raises
        if events:
            conn.dispatch.after_cursor_execute(conn, None, sql, args, None, False)
        if self.is_dml and self.table is not None:
            announce_write(session.sync_session, self.table, self.is_insert, [params])
        return compiled.rows(found)

    async def scalar(self, session: AsyncSession, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None without a row (as `Session.scalar`)."""
        found = await self.rows(session, params)
        return found[0][0] if found else None


async def _autoflush(session: Session, reads: frozenset[str]) -> None:
    """Flush before a query of `reads` when a session query would, and only then.

    A session with no changes and no rows queued for those tables has nothing the query
    could miss: no greenlet, no flush. Otherwise the session's own autoflush runs, told
    what the query reads, so rows queued for other tables stay queued
    (`WriteBehindSession`).
    """
    if not session.autoflush or session._flushing:
        return
    if isinstance(session, WriteBehindSession):
        if not session._is_clean() or session.queues_for(reads):
            await greenlet_spawn(session.autoflush_reading, reads)
    elif not session._is_clean():
        await greenlet_spawn(session._autoflush)


class DirectInsertMany:
    """A multi-row `INSERT ... RETURNING id` on SQLite's inline connection (see the module).

    SQLAlchemy's `insertmanyvalues` costs about as much per row as the ORM would: the rows of
    a batch's events and replies go in as one statement of as many `VALUES` groups. Other
    connections (PostgreSQL, a non-inline SQLite) keep SQLAlchemy's own path: `ids` returns
    None for them, and for rows that leave out a column with a Python default, which only
    SQLAlchemy's execution computes.
    """

    def __init__(self, table: Table) -> None:
        self.table = table
        self._single: dict[tuple[str, ...], Direct] = {}

    def ids(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int] | None:
        """Insert `rows` (all with the same keys) in the session's transaction; their ids."""
        if not rows:
            return []
        conn = _held_sync_connection(session) or session.connection()
        adapted = conn.connection.dbapi_connection
        if _runner(adapted) is not _sqlite:
            return None
        keys = tuple(rows[0])
        if any(tuple(r) != keys for r in rows):
            return None
        single = self._single.get(keys)
        if single is None:
            defaulted = {c.key for c in self.table.columns if c.default is not None}
            if not defaulted <= set(keys):
                return None
            stmt = insert(self.table).returning(self.table.c.id)
            single = self._single[keys] = Direct(stmt, keys)
        compiled = single._for(conn.dialect)
        head, group, tail = _values_group(compiled.sql)
        found: list[int] = []
        # SQLite allows 32,766 parameters a statement.
        per = max(1, 30_000 // max(1, len(compiled.names)))
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            sql = head + ", ".join([group] * len(chunk)) + tail
            args = [a for row in chunk for a in compiled.args(row)]
            found.extend(int(r[0]) for r in _sqlite_now(conn, adapted, sql, args))
        announce_write(session, self.table.name, True, list(rows))
        # One INSERT gives its rows ascending ids in the order listed (`insert_many`).
        return sorted(found)


def _values_group(sql: str) -> tuple[str, str, str]:
    head, _, rest = sql.partition(" VALUES ")
    group, _, tail = rest.partition(")")
    if not group.startswith("(") or set(group[1:]) - set("?, "):
        raise TypeError(f"not a plain single-row INSERT: {sql}")
    return head + " VALUES ", group + ")", tail


def _sqlite_now(conn: Connection, adapted: Any, sql: str, args: Sequence[Any]) -> list[Any]:
    # Inside SQLAlchemy's greenlet (a flush): the turn is awaited as the inline cursor does.
    events = conn._has_events or conn.engine._has_events
    if events:
        conn.dispatch.before_cursor_execute(conn, None, sql, args, None, True)
    inline = adapted._connection
    try:
        found = _sqlite_fetch(inline, sql, args)
    except Exception as error:
        _raise_as_sqlalchemy(conn, error, sql, args)
        raise
    if inline.gives_turns:
        await_(asyncio.sleep(0))
    if events:
        conn.dispatch.after_cursor_execute(conn, None, sql, args, None, True)
    return found


def _held_sync_connection(session: Session) -> Connection | None:
    transaction: Any = getattr(session, "_transaction", None)
    if transaction is None or not transaction.is_active:
        return None
    held: Any = getattr(transaction, "_connections", None)
    found = held.get(session.get_bind()) if held else None
    return cast(Connection, found[0]) if found else None


def _held_connection(session: AsyncSession) -> Connection | None:
    """The connection the session's transaction holds already, without a greenlet.

    `session.connection()` costs half a direct statement; after the transaction's first
    statement the connection is simply there. None before that (it may have to begin).
    """
    return _held_sync_connection(session.sync_session)


def _raise_as_sqlalchemy(conn: Connection, error: Exception, sql: str, args: Any) -> None:
    # The path a failed execution takes through SQLAlchemy: translated, wrapped, and the
    # connection invalidated when the error says it was lost.
    try:
        conn.connection.dbapi_connection._handle_exception(error)  # type: ignore[union-attr]
    except Exception as translated:
        conn._handle_dbapi_exception(translated, sql, args, None, None)
    raise error


def _sqlite_fetch(inline: Any, sql: str, args: Sequence[Any]) -> list[Any]:
    cursor = inline._connection.execute(sql, args)
    try:
        found: list[Any] = cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()
    return found


async def _sqlite(adapted: Any, sql: str, args: Sequence[Any], _dialect: Dialect) -> Sequence[Any]:
    inline = adapted._connection
    found = _sqlite_fetch(inline, sql, args)
    if inline.gives_turns:
        # As every statement of a writer's connection does (`InlineConnection`).
        await asyncio.sleep(0)
    return found


async def _asyncpg(adapted: Any, sql: str, args: Sequence[Any], dialect: Dialect) -> Sequence[Any]:
    # As the adapter's cursor runs a statement (`_prepare_and_execute`), minus the cursor.
    async with adapted._execute_mutex:
        if adapted._transaction is None:
            await adapted._start_transaction()
        # The dialect's timestamp, as an execution context hands it to the cursor: a
        # statement prepared before the schema last changed (DDL) is prepared again.
        invalidated = getattr(dialect, "_invalidate_schema_cache_asof", 0)
        prepared, _ = await adapted._prepare(sql, invalidated)
        found: Sequence[Any] = await prepared.fetch(*args)
        return found


def _runner(adapted: Any) -> Any:
    kind = type(adapted).__name__
    if kind == "InlineAdaptedConnection":
        return _sqlite
    if kind == "AsyncAdapt_asyncpg_connection" and hasattr(adapted, "_prepare"):
        return _asyncpg
    return None
