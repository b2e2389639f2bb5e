"""The platform state table: upserts, compare-and-set across connections, the upgrade path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.platforms import DatabaseCursors
from channels.base import RuleState
from channels.twilio.render import Choice
from channels.twilio.rules import PlatformState
from channels.x.public import PublicAnswers
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.migrate import upgrade_engine
from store.platform_state import PlatformStateRepository, SqlPlatformState
from store.uow import UnitOfWork

NUMBER = "+14155550123"


@pytest.fixture
async def other(database_url: str, factory: SessionFactory) -> AsyncIterator[SessionFactory]:
    """A second engine on the same database: its own connections, as another process has."""
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    yield session_factory(engine)
    await engine.dispose()


async def other_writer_waiting(session: AsyncSession) -> None:
    """Return once another transaction waits on this one's row (PostgreSQL shows it).

    SQLite has one writer at a time: the other transaction waits to begin at all.
    """
    if session.get_bind().dialect.name != "postgresql":
        for _ in range(10):
            await asyncio.sleep(0)
        return
    waiting = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    for _ in range(1000):
        if await session.scalar(waiting):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the other writer never reached the row")


async def test_put_upserts_and_raises_the_version(factory: SessionFactory) -> None:
    store = SqlPlatformState(factory)
    assert await store.get("optout", "sms", NUMBER) is None
    first = await store.put("optout", "sms", NUMBER, "1")
    second = await store.put("optout", "sms", NUMBER, "")
    assert (first.value, first.version) == ("1", 1)
    assert (second.value, second.version) == ("", 2)
    stored = await store.get("optout", "sms", NUMBER)
    assert stored is not None
    assert (stored.value, stored.version) == ("", 2)
    assert stored.updated_at >= first.updated_at
    assert stored.updated_at.tzinfo is not None
    # The key is all three parts: the same number on WhatsApp is another row.
    assert await store.get("optout", "whatsapp", NUMBER) is None


async def test_compare_and_set_writes_only_over_the_expected_version(
    factory: SessionFactory,
) -> None:
    store = SqlPlatformState(factory)
    created = await store.compare_and_set("choices", "sms", NUMBER, None, "a")
    assert created is not None
    assert created.version == 1
    assert await store.compare_and_set("choices", "sms", NUMBER, None, "b") is None
    assert await store.compare_and_set("choices", "sms", NUMBER, 7, "b") is None
    changed = await store.compare_and_set("choices", "sms", NUMBER, 1, "c")
    assert changed is not None
    assert (changed.value, changed.version) == ("c", 2)
    assert await store.compare_and_set("choices", "sms", NUMBER, 1, "d") is None
    stored = await store.get("choices", "sms", NUMBER)
    assert stored is not None
    assert (stored.value, stored.version) == ("c", 2)


async def test_two_connections_racing_on_one_version_one_wins(
    factory: SessionFactory, other: SessionFactory
) -> None:
    await SqlPlatformState(factory).put("public_answered", "x", "u1", "")
    # The first writer has updated the row but not committed when the second one asks.
    async with factory() as session, session.begin():
        mine = await PlatformStateRepository(session).compare_and_set(
            "public_answered", "x", "u1", 1, "100"
        )
        theirs = asyncio.create_task(
            SqlPlatformState(other).compare_and_set("public_answered", "x", "u1", 1, "200")
        )
        await other_writer_waiting(session)
        assert mine is not None
    assert await theirs is None
    stored = await SqlPlatformState(other).get("public_answered", "x", "u1")
    assert stored is not None
    assert (stored.value, stored.version) == ("100", 2)


async def test_two_connections_creating_the_same_row_one_wins(
    factory: SessionFactory, other: SessionFactory
) -> None:
    async with factory() as session, session.begin():
        mine = await PlatformStateRepository(session).compare_and_set(
            "public_pending", "x", "u2", None, "first"
        )
        theirs = asyncio.create_task(
            SqlPlatformState(other).compare_and_set("public_pending", "x", "u2", None, "second")
        )
        await other_writer_waiting(session)
        assert mine is not None
    assert await theirs is None
    stored = await SqlPlatformState(factory).get("public_pending", "x", "u2")
    assert stored is not None
    assert stored.value == "first"


async def test_concurrent_read_modify_writes_lose_nothing(
    factory: SessionFactory, other: SessionFactory
) -> None:
    views = [RuleState(SqlPlatformState(f)) for f in (factory, other)]

    async def add_one(view: RuleState) -> None:
        await view.update("counter", "test", "n", lambda v: str(int(v or "0") + 1))

    await asyncio.gather(*(add_one(views[i % 2]) for i in range(12)))
    stored = await SqlPlatformState(factory).get("counter", "test", "n")
    assert stored is not None
    assert (stored.value, stored.version) == ("12", 12)


async def test_two_workers_claiming_one_public_answer_one_gets_it(
    factory: SessionFactory, other: SessionFactory
) -> None:
    first = PublicAnswers(store=SqlPlatformState(factory))
    second = PublicAnswers(store=SqlPlatformState(other))
    await first.await_answer("u3", "1900000000000000001")
    claims = await asyncio.gather(*(p.claim("u3") for p in (first, second, first, second)))
    taken = [c for c in claims if c is not None]
    assert [c.tweet_id for c in taken] == ["1900000000000000001"]


async def test_a_stale_release_leaves_a_later_claim_alone(factory: SessionFactory) -> None:
    answers = PublicAnswers(store=SqlPlatformState(factory))
    await answers.await_answer("u4", "1900000000000000010")
    early = await answers.claim("u4")
    assert early is not None
    await answers.await_answer("u4", "1900000000000000020")
    later = await answers.claim("u4")
    assert later is not None
    await answers.release("u4", early)
    assert await answers.claim("u4") is None  # the later claim still holds the mark
    await answers.release("u4", later)
    again = await answers.claim("u4")
    assert again is not None
    assert again.tweet_id == "1900000000000000020"


async def test_restoring_choices_never_undoes_a_later_text(factory: SessionFactory) -> None:
    state = PlatformState(SqlPlatformState(factory))
    approve = [Choice(key="1", action="approve", value="CHG-1")]
    reject = [Choice(key="1", action="reject", value="CHG-2")]
    failing = await state.remember_choices("sms", NUMBER, approve)
    await state.remember_choices("sms", NUMBER, reject)
    assert failing is not None
    await state.restore_choices("sms", NUMBER, failing)
    assert await state.choices("sms", NUMBER) == reject


async def test_an_opt_out_stored_by_an_older_release_is_honoured(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        await uow.cursors.set(f"twilio.optout:sms:{NUMBER}", "1")
        await uow.cursors.set("twilio.window:whatsapp:+14155550999", "not a time")
        await uow.commit()
    store = SqlPlatformState(factory)
    state = PlatformState(store, DatabaseCursors(factory))
    assert await state.opted_out("sms", NUMBER)
    assert not await state.opted_out("sms", "+14155550111")
    assert not await state.in_window("+14155550999")
    # Copied over once; the old row is no longer the one that counts.
    copied = await store.get("optout", "sms", NUMBER)
    assert copied is not None
    assert copied.value == "1"
    absent = await store.get("optout", "sms", "+14155550111")
    assert absent is not None
    assert absent.value == ""
    await state.set_opted_out("sms", NUMBER, False)
    assert not await state.opted_out("sms", NUMBER)
    async with UnitOfWork(factory) as uow:
        assert await uow.cursors.get(f"twilio.optout:sms:{NUMBER}") == "1"


async def test_an_opt_out_survives_the_migration(database_url: str) -> None:
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        await upgrade_engine(engine, "0028")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO cursors (key, value, updated_at) "
                    "VALUES (:key, '1', CURRENT_TIMESTAMP)"
                ),
                {"key": f"twilio.optout:whatsapp:{NUMBER}"},
            )
            await conn.execute(
                text(
                    "INSERT INTO cursors (key, value, updated_at) "
                    "VALUES ('x.answered.u5', '1900000000000000050', CURRENT_TIMESTAMP)"
                )
            )
        await upgrade_engine(engine)
        factory = session_factory(engine)
        state = PlatformState(SqlPlatformState(factory), DatabaseCursors(factory))
        assert await state.opted_out("whatsapp", NUMBER)
        assert not await state.opted_out("sms", NUMBER)
        answers = PublicAnswers(DatabaseCursors(factory), store=SqlPlatformState(factory))
        await answers.await_answer("u5", "1900000000000000050")
        assert await answers.claim("u5") is None  # answered before the upgrade
    finally:
        await engine.dispose()
