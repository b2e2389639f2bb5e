"""Meta's window time and private-reply marks in the platform state table, across connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.platforms import DatabaseCursors
from channels.conversation import Address
from channels.meta.channel import MetaChannel, window_key
from channels.meta.private import PrivateReplies
from channels.meta.state import ANSWERED, PENDING, WINDOW, LastMessages, legacy_key, rule_state
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.migrate import upgrade_engine
from store.platform_state import PlatformStateEntry, SqlPlatformState

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
PSID = "6789012345678901"
MESSENGER = Address(channel="messenger", conversation=PSID, user=PSID)


@pytest.fixture
async def other(database_url: str, factory: SessionFactory) -> AsyncIterator[SessionFactory]:
    """A second engine on the same database: its own connections, as another worker has."""
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    yield session_factory(engine)
    await engine.dispose()


class Turns:
    """The order of two writers of one `kind`: the slow one reads, the quick one writes,
    then the slow one writes over the version it read."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.read = asyncio.Event()
        self.written = asyncio.Event()

    @staticmethod
    async def wait(event: asyncio.Event) -> None:
        # Fails rather than hangs if the other writer never gets there.
        async with asyncio.timeout(10):
            await event.wait()


class SlowReader(SqlPlatformState):
    def __init__(self, factory: SessionFactory, turns: Turns) -> None:
        super().__init__(factory)
        self.turns = turns

    async def get(self, kind: str, channel: str, address: str) -> PlatformStateEntry | None:
        entry = await super().get(kind, channel, address)
        if kind == self.turns.kind and not self.turns.read.is_set():
            self.turns.read.set()
            await self.turns.wait(self.turns.written)
        return entry


class QuickWriter(SqlPlatformState):
    def __init__(self, factory: SessionFactory, turns: Turns) -> None:
        super().__init__(factory)
        self.turns = turns

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> PlatformStateEntry | None:
        if kind == self.turns.kind:
            await self.turns.wait(self.turns.read)
        entry = await super().compare_and_set(kind, channel, address, expected, value)
        if entry is not None and kind == self.turns.kind:
            self.turns.written.set()
        return entry


async def test_two_workers_opening_one_window_at_once_keep_the_later_time(
    factory: SessionFactory, other: SessionFactory
) -> None:
    turns = Turns(WINDOW)
    slow = LastMessages(rule_state(SlowReader(factory, turns), None))
    quick = LastMessages(rule_state(QuickWriter(other, turns), None))
    await SqlPlatformState(factory).put(
        WINDOW, "messenger", PSID, (NOW - timedelta(days=2)).isoformat()
    )
    # The earlier message's worker read first and writes last.
    await asyncio.gather(
        slow.wrote("messenger", PSID, NOW - timedelta(minutes=10)),
        quick.wrote("messenger", PSID, NOW),
    )
    stored = await SqlPlatformState(factory).get(WINDOW, "messenger", PSID)
    assert stored is not None
    assert (stored.value, stored.version) == (NOW.isoformat(), 2)
    channel = MetaChannel(platform_state=SqlPlatformState(other))
    assert await channel.last_message(MESSENGER) == NOW


async def test_many_messages_at_once_from_two_workers_leave_the_latest(
    factory: SessionFactory, other: SessionFactory
) -> None:
    workers = [LastMessages(rule_state(SqlPlatformState(f), None)) for f in (factory, other)]
    times = [NOW - timedelta(minutes=m) for m in (7, 3, 0, 9, 1, 5)]
    await asyncio.gather(
        *(workers[i % 2].wrote("instagram", "17", at) for i, at in enumerate(times))
    )
    assert await workers[0].at("instagram", "17") == NOW


async def test_two_workers_claiming_one_comment_one_gets_it(
    factory: SessionFactory, other: SessionFactory
) -> None:
    turns = Turns(ANSWERED)
    slow = PrivateReplies(store=SlowReader(factory, turns))
    quick = PrivateReplies(store=QuickWriter(other, turns))
    await PrivateReplies(store=SqlPlatformState(factory)).await_reply(
        "instagram", "43", "17", NOW - timedelta(minutes=1)
    )
    claims = await asyncio.gather(
        slow.claim("instagram", "43", NOW), quick.claim("instagram", "43", NOW)
    )
    assert claims[0] is None
    assert claims[1] is not None
    assert claims[1].comment_id == "17"
    assert await quick.claim("instagram", "43", NOW) is None


async def test_window_and_marks_kept_among_the_cursors_are_read_once(
    factory: SessionFactory,
) -> None:
    cursors = DatabaseCursors(factory)
    at = (NOW - timedelta(hours=1)).timestamp()
    await cursors.set(window_key(MESSENGER), (NOW - timedelta(hours=3)).isoformat())
    await cursors.set(legacy_key(PENDING, "messenger", PSID), f"1_2 {at}")
    await cursors.set(legacy_key(ANSWERED, "messenger", PSID), "1_2")
    store = SqlPlatformState(factory)
    channel = MetaChannel(cursors=cursors, platform_state=store)
    assert await channel.last_message(MESSENGER) == NOW - timedelta(hours=3)
    assert await channel.private.claim("messenger", PSID, NOW) is None
    copied = await store.get(WINDOW, "messenger", PSID)
    assert copied is not None
    assert copied.value == (NOW - timedelta(hours=3)).isoformat()
    # A later message moves the copied time on; the old row no longer counts.
    await cursors.set(window_key(MESSENGER), (NOW - timedelta(days=5)).isoformat())
    await LastMessages(rule_state(store, cursors)).wrote("messenger", PSID, NOW)
    assert await channel.last_message(MESSENGER) == NOW


async def test_a_window_time_survives_the_migration(database_url: str) -> None:
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        await upgrade_engine(engine, "0028")
        async with engine.begin() as conn:
            for key, value in (
                (window_key(MESSENGER), (NOW - timedelta(hours=2)).isoformat()),
                (legacy_key(ANSWERED, "messenger", PSID), "1_2"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO cursors (key, value, updated_at) "
                        "VALUES (:key, :value, CURRENT_TIMESTAMP)"
                    ),
                    {"key": key, "value": value},
                )
        await upgrade_engine(engine)
        factory = session_factory(engine)
        channel = MetaChannel(
            cursors=DatabaseCursors(factory), platform_state=SqlPlatformState(factory)
        )
        assert await channel.last_message(MESSENGER) == NOW - timedelta(hours=2)
        await channel.private.await_reply("messenger", PSID, "1_2", NOW - timedelta(hours=1))
        assert await channel.private.claim("messenger", PSID, NOW) is None  # answered before
    finally:
        await engine.dispose()
