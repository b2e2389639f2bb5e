"""Statements sent straight to the driver behave as they would through the session."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, bindparam, event, insert, select, text, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError, PendingRollbackError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import Session

from store import hotpath
from store.db import SessionFactory, session_factory
from store.direct import Direct, DirectInsertMany
from store.enums import Role, Status, TicketKind
from store.models import ChannelIdentity, Person, PersonRole, Ticket
from store.uow import UnitOfWork

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
IDENTITIES = cast(Table, ChannelIdentity.__table__)
_IDENTITY = Direct(
    insert(IDENTITIES).returning(IDENTITIES.c.id),
    ["person_id", "platform", "external_id", "verified", "created_at"],
)


def _identity(person_id: int, number: str) -> dict[str, Any]:
    return {
        "person_id": person_id,
        "platform": "sms",
        "verified": True,
        "created_at": NOW,
        "external_id": number,
    }


async def _person(factory: SessionFactory) -> int:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(name="Ann", email="ann@example.com")
        await uow.commit()
        return person.id


async def _incident(factory: SessionFactory, title: str, origin: dict[str, str]) -> Ticket:
    person_id = await _person(factory)
    async with UnitOfWork(factory) as uow:
        person = await uow.people.get(person_id)
        assert person is not None
        made = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title=title, requester=person, origin=origin
        )
        await uow.commit()
    return made


@pytest.fixture
def writes() -> Iterator[list[tuple[str, bool, list[Mapping[str, Any]]]]]:
    heard: list[tuple[str, bool, list[Mapping[str, Any]]]] = []

    def watcher(_s: Session, table: str, is_insert: bool, rows: list[Mapping[str, Any]]) -> None:
        heard.append((table, is_insert, rows))

    hotpath.watches_writes(watcher)
    try:
        yield heard
    finally:
        hotpath._WRITE_WATCHERS.remove(watcher)


async def test_a_direct_insert_is_part_of_the_session_transaction(
    factory: SessionFactory,
) -> None:
    person_id = await _person(factory)
    row = _identity(person_id, "+15550001")
    async with UnitOfWork(factory) as uow:
        await _IDENTITY.rows(uow.session, row)
        await uow.rollback()
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(select(ChannelIdentity.id)) is None
        (found,) = await _IDENTITY.rows(uow.session, row)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        stored = await uow.session.get(ChannelIdentity, int(found[0]))
        assert stored is not None
        assert (stored.person_id, stored.external_id) == (person_id, "+15550001")
        assert (stored.verified, stored.created_at) == (True, NOW)


async def test_a_ticket_inserted_directly_reads_back_as_the_orm_wrote_it(
    factory: SessionFactory,
) -> None:
    origin = {"channel": "webchat", "conversation": "v-1", "thread": "t-1"}
    made = await _incident(factory, "VPN down", origin)
    async with UnitOfWork(factory) as uow:
        stored = await uow.session.get(Ticket, made.id)
        assert stored is not None
        assert stored.origin == origin
        assert stored.status is Status.NEW
        assert stored.kind is TicketKind.INCIDENT
        assert stored.created_at == made.created_at
        assert stored.ref == made.ref


async def test_statement_listeners_and_write_watchers_hear_a_direct_insert(
    factory: SessionFactory, writes: list[tuple[str, bool, list[Mapping[str, Any]]]]
) -> None:
    person_id = await _person(factory)
    heard: list[str] = []
    engine = factory.kw["bind"].sync_engine

    def listen(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        heard.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        async with UnitOfWork(factory) as uow:
            row = _identity(person_id, "+15550002")
            await _IDENTITY.rows(uow.session, row)
            await uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert any(s.startswith("INSERT INTO channel_identities") for s in heard)
    assert ("channel_identities", True, [row]) in writes


async def test_a_driver_error_is_raised_as_sqlalchemy_s_and_the_unit_of_work_goes_on(
    factory: SessionFactory,
) -> None:
    person_id = await _person(factory)
    row = _identity(person_id, "+15550003")
    async with UnitOfWork(factory) as uow:
        await _IDENTITY.rows(uow.session, row)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        with pytest.raises(IntegrityError):
            await _IDENTITY.rows(uow.session, row)
        await uow.rollback()
    async with UnitOfWork(factory) as uow:
        with pytest.raises(DBAPIError):
            await Direct(text("SELECT missing FROM nowhere")).rows(uow.session, {})
        await uow.rollback()
    async with UnitOfWork(factory) as uow:
        assert await uow.session.scalar(select(Person.name).where(Person.id == person_id)) == "Ann"


async def test_a_query_takes_its_parameters_by_name() -> None:
    # An in-memory database is not run inline: the statement goes through the session.
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    try:
        factory = session_factory(engine)
        async with factory() as session:
            query = Direct(text("SELECT :b * 10 + :a, :a"))
            assert [tuple(r) for r in await query.rows(session, {"a": 1, "b": 2})] == [(21, 1)]
    finally:
        await engine.dispose()


async def test_a_query_takes_its_parameters_by_name_on_the_driver(
    factory: SessionFactory,
) -> None:
    async with factory() as session:
        query = Direct(
            text("SELECT CAST(:b AS INTEGER) * 10 + CAST(:a AS INTEGER), CAST(:a AS INTEGER)")
        )
        assert [tuple(r) for r in await query.rows(session, {"a": 1, "b": 2})] == [(21, 1)]


async def test_a_column_left_out_is_refused_not_defaulted(factory: SessionFactory) -> None:
    person_id = await _person(factory)
    async with UnitOfWork(factory) as uow:
        with pytest.raises(KeyError, match="created_at"):
            await _IDENTITY.rows(
                uow.session,
                {"person_id": person_id, "platform": "sms", "external_id": "1", "verified": True},
            )
    with pytest.raises(TypeError, match="no column 'colour'"):
        async with UnitOfWork(factory) as uow:
            await Direct(insert(cast(Table, Person.__table__)), ["colour"]).rows(
                uow.session, {"colour": 1}
            )


async def test_after_a_failed_flush_a_direct_statement_is_refused_as_a_query_would_be(
    factory: SessionFactory,
) -> None:
    person_id = await _person(factory)
    async with UnitOfWork(factory) as uow:
        await uow.people.get(person_id)
        uow.session.add(Person(name="Bob", email="ann@example.com"))
        with pytest.raises(IntegrityError):
            await uow.session.flush()
        with pytest.raises(PendingRollbackError):
            await uow.session.execute(select(Person.id))
        with pytest.raises(PendingRollbackError):
            await Direct(text("SELECT 1")).rows(uow.session, {})
        await uow.rollback()


async def test_many_rows_go_in_one_insert_and_their_ids_come_back_in_order(
    factory: SessionFactory, writes: list[tuple[str, bool, list[Mapping[str, Any]]]]
) -> None:
    person_id = await _person(factory)
    many = DirectInsertMany(IDENTITIES)
    # More rows than one statement may carry parameters for: two statements.
    rows = [{**_identity(person_id, f"+1555{n:07d}"), "verified": n % 2 == 0} for n in range(6500)]
    async with UnitOfWork(factory) as uow:
        ids = await uow.session.run_sync(many.ids, rows)
        if uow.session.get_bind().dialect.name != "sqlite":
            assert ids is None  # PostgreSQL keeps SQLAlchemy's own path
            return
        assert ids is not None
        await uow.commit()
    assert len(ids) == len(set(ids)) == 6500
    async with UnitOfWork(factory) as uow:
        stored = dict(
            (
                await uow.session.execute(select(ChannelIdentity.id, ChannelIdentity.external_id))
            ).all()
        )
    assert [stored[i] for i in ids] == [r["external_id"] for r in rows]
    assert writes[-1] == ("channel_identities", True, rows)


async def test_rows_leaving_out_a_defaulted_column_keep_sqlalchemy_s_path(
    factory: SessionFactory,
) -> None:
    person_id = await _person(factory)
    many = DirectInsertMany(IDENTITIES)
    rows = [{"person_id": person_id, "platform": "sms", "external_id": "+15550009"}]
    async with UnitOfWork(factory) as uow:
        assert await uow.session.run_sync(many.ids, rows) is None


async def test_a_query_s_rows_come_back_as_a_session_would_give_them(
    factory: SessionFactory,
) -> None:
    origin = {"channel": "webchat", "conversation": "v-2"}
    made = await _incident(factory, "Printer jam", origin)
    query = select(Ticket.status, Ticket.origin, Ticket.created_at, Ticket.title).where(
        Ticket.id == bindparam("id")
    )
    async with UnitOfWork(factory) as uow:
        direct = [tuple(r) for r in await Direct(query).rows(uow.session, {"id": made.id})]
        through = [tuple(r) for r in await uow.session.execute(query, {"id": made.id})]
    assert direct == through == [(Status.NEW, origin, made.created_at, "Printer jam")]
    assert direct[0][0] is Status.NEW
    assert direct[0][2].tzinfo is not None


async def _four_numbers(factory: SessionFactory) -> None:
    """Ann's SMS numbers +15550000 to +15550003."""
    person_id = await _person(factory)
    async with UnitOfWork(factory) as uow:
        for n in range(4):
            await _IDENTITY.rows(uow.session, _identity(person_id, f"+1555000{n}"))
        await uow.commit()


async def test_an_in_list_is_bound_member_by_member_whatever_its_length(
    factory: SessionFactory,
) -> None:
    await _four_numbers(factory)
    query = Direct(
        select(ChannelIdentity.external_id)
        .where(
            ChannelIdentity.external_id.in_(bindparam("numbers", expanding=True)),
            ChannelIdentity.platform.in_(["sms", "telegram"]),
            ChannelIdentity.created_at >= bindparam("since"),
        )
        .order_by(ChannelIdentity.external_id)
    )
    async with UnitOfWork(factory) as uow:

        async def found(numbers: list[str]) -> list[str]:
            rows = await query.rows(uow.session, {"numbers": numbers, "since": NOW})
            return [r[0] for r in rows]

        assert await found(["+15550003", "+15550001", "+19999999"]) == ["+15550001", "+15550003"]
        assert await found(["+15550002"]) == ["+15550002"]
        assert await found([]) == []


async def test_an_expansion_kept_for_a_shape_binds_each_executions_own_values(
    factory: SessionFactory,
) -> None:
    await _four_numbers(factory)
    # A tuple `IN` of (platform, number) rows, an enum-typed list and a plain value: the
    # same shape again must take the new call's values, each through its column's processor.
    query = Direct(
        select(ChannelIdentity.external_id)
        .join(PersonRole, PersonRole.person_id == ChannelIdentity.person_id)
        .where(
            tuple_(ChannelIdentity.platform, ChannelIdentity.external_id).in_(
                bindparam("pairs", expanding=True)
            ),
            PersonRole.role.in_(bindparam("roles", expanding=True)),
            ChannelIdentity.created_at >= bindparam("since"),
        )
        .order_by(ChannelIdentity.external_id)
    )
    async with UnitOfWork(factory) as uow:

        async def found(pairs: list[tuple[str, str]], roles: list[Role]) -> list[str]:
            params = {"pairs": pairs, "roles": roles, "since": NOW}
            return [r[0] for r in await query.rows(uow.session, params)]

        both = [("sms", "+15550001"), ("sms", "+15550003")]
        assert await found(both, [Role.REQUESTER]) == ["+15550001", "+15550003"]
        assert await found(both, [Role.AGENT]) == []
        other = [("sms", "+15550002"), ("telegram", "+15550000")]
        assert await found(other, [Role.REQUESTER]) == ["+15550002"]
        assert await found([("sms", "+15550000")], [Role.AGENT, Role.REQUESTER]) == ["+15550000"]
        assert await found([], [Role.REQUESTER]) == []
        assert await found(both, []) == []
        # A set is no list: it is expanded as SQLAlchemy expands it, every time.
        rows = await query.rows(
            uow.session, {"pairs": {("sms", "+15550002")}, "roles": [Role.REQUESTER], "since": NOW}
        )
        assert [r[0] for r in rows] == ["+15550002"]
        later = await query.rows(
            uow.session,
            {
                "pairs": [("sms", "+15550001")],
                "roles": [Role.REQUESTER],
                "since": NOW.replace(year=2027),
            },
        )
        assert list(later) == []


async def test_a_list_rendered_into_the_sql_takes_each_executions_values(
    factory: SessionFactory,
) -> None:
    await _four_numbers(factory)
    query = Direct(
        select(ChannelIdentity.external_id)
        .where(
            ChannelIdentity.external_id.in_(
                bindparam("numbers", expanding=True, literal_execute=True)
            )
        )
        .order_by(ChannelIdentity.external_id)
    )
    async with UnitOfWork(factory) as uow:
        for numbers in (["+15550001", "+15550002"], ["+15550003", "+15550000"]):
            rows = await query.rows(uow.session, {"numbers": numbers})
            assert [r[0] for r in rows] == sorted(numbers)


async def test_a_query_declaring_its_tables_reads_what_the_session_has_not_flushed(
    factory: SessionFactory,
) -> None:
    names = Direct(
        select(Person.name).order_by(Person.name).execution_options(**hotpath.reads("people"))
    )
    roles = Direct(
        select(PersonRole.role)
        .where(PersonRole.person_id == bindparam("person_id"))
        .execution_options(**hotpath.reads("person_roles"))
    )
    flushes: list[int] = []
    async with UnitOfWork(factory) as uow:
        sync = cast(hotpath.WriteBehindSession, uow.session.sync_session)
        event.listen(sync, "after_flush", lambda *_: flushes.append(1))
        person = await uow.people.create(name="Ann", roles=[Role.AGENT])
        # Nothing changed through the ORM and no row queued for `people`: no flush, and the
        # new person's roles stay queued for one INSERT with the batch's others.
        assert [r[0] for r in await names.rows(uow.session, {})] == ["Ann"]
        assert flushes == []
        assert sync._queued
        # A query of the queued rows' table writes them first, as a session query would.
        assert [r[0] for r in await roles.rows(uow.session, {"person_id": person.id})] == [
            Role.AGENT
        ]
        assert not sync._queued
        person.name = "Annie"
        uow.session.add(Person(name="Bob"))
        assert [r[0] for r in await names.rows(uow.session, {})] == ["Annie", "Bob"]
        assert flushes == [1]
        await uow.rollback()


async def test_a_direct_update_is_heard_by_the_write_watchers(
    factory: SessionFactory, writes: list[tuple[str, bool, list[Mapping[str, Any]]]]
) -> None:
    person_id = await _person(factory)
    people = cast(Table, Person.__table__)
    rename = Direct(
        update(people)
        .where(people.c.id == bindparam("person_id"))
        .values(name=bindparam("new_name"))
        .returning(people.c.name)
    )
    async with UnitOfWork(factory) as uow:
        params = {"person_id": person_id, "new_name": "Annie"}
        assert [tuple(r) for r in await rename.rows(uow.session, params)] == [("Annie",)]
        await uow.commit()
    assert ("people", False, [params]) in writes
