"""Meta's window time and private-reply marks in the platform state store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette

from bot.config import Settings
from bot.factories.meta import build
from bot.platforms import ChannelDeps
from channels.base import IngestOutcome, MemoryCursors, MemoryPlatformState, StoredState
from channels.conversation import Address, Event
from channels.meta.channel import MetaChannel, window_key
from channels.meta.private import PrivateReplies
from channels.meta.state import ANSWERED, PENDING, WINDOW, LastMessages, legacy_key, rule_state
from tests.fakes.meta_api import APP_SECRET, MESSENGER_TEXT, PAGE_ID, PSID, body, signed_headers

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MESSENGER = Address(channel="messenger", workspace=PAGE_ID, conversation=PSID, user=PSID)


class ReadTogether(MemoryPlatformState):
    """Holds each of the first two reads of `kind` until both have read.

    So both writers start from the same version, as two workers handling two events of one
    person at the same moment do.
    """

    def __init__(self, kind: str) -> None:
        super().__init__()
        self._kind = kind
        self._barrier = asyncio.Barrier(2)
        self._held = 2

    async def get(self, kind: str, channel: str, address: str) -> StoredState | None:
        entry = await super().get(kind, channel, address)
        if kind == self._kind and self._held > 0:
            self._held -= 1
            # Fails rather than hangs if the other reader never comes.
            async with asyncio.timeout(10):
                await self._barrier.wait()
        return entry


async def test_of_two_opens_at_once_the_later_time_stays() -> None:
    store = ReadTogether(WINDOW)
    times = LastMessages(rule_state(store, None))
    later, earlier = NOW, NOW - timedelta(minutes=10)
    # The later one reads last, so it writes first: a plain write of the earlier would stay.
    await asyncio.gather(
        times.wrote("messenger", PSID, earlier), times.wrote("messenger", PSID, later)
    )
    assert await times.at("messenger", PSID) == later
    entry = await store.get(WINDOW, "messenger", PSID)
    assert entry is not None
    assert entry.version == 1


async def test_two_deliveries_at_once_through_the_webhook_keep_the_newer_message() -> None:
    store = ReadTogether(WINDOW)
    channel = MetaChannel(platform_state=store, app_secret=APP_SECRET)

    async def ingest(event: Event) -> IngestOutcome:
        return IngestOutcome.ACCEPTED

    newer = int(NOW.timestamp() * 1000)
    older = newer - 3_600_000
    app = Starlette(routes=list(channel.routes(ingest)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta.test") as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/meta/webhook",
                    content=raw,
                    headers=signed_headers(raw),
                )
                for raw in (
                    body(MESSENGER_TEXT, mid=f"m_{at}", sender=PSID, timestamp=at)
                    for at in (older, newer)
                )
            )
        )
    assert [a.json()["accepted"] for a in answers] == [1, 1]
    assert await channel.last_message(MESSENGER) == NOW


async def test_an_earlier_message_never_moves_the_window_back() -> None:
    times = LastMessages(rule_state(MemoryPlatformState(), None))
    await times.wrote("instagram", "1", NOW)
    await times.wrote("instagram", "1", NOW - timedelta(hours=1))
    assert await times.at("instagram", "1") == NOW
    await times.wrote("instagram", "1", NOW + timedelta(seconds=1))
    assert await times.at("instagram", "1") == NOW + timedelta(seconds=1)


async def test_a_window_time_kept_among_the_cursors_is_still_honoured() -> None:
    cursors = MemoryCursors()
    await cursors.set(window_key(MESSENGER), (NOW - timedelta(hours=2)).isoformat())
    await cursors.set("meta:last_message:instagram:9", "not a time")
    store = MemoryPlatformState()
    channel = MetaChannel(cursors=cursors, platform_state=store)
    assert window_key(MESSENGER) == f"meta:last_message:messenger:{PSID}"
    assert await channel.last_message(MESSENGER) == NOW - timedelta(hours=2)
    copied = await store.get(WINDOW, "messenger", PSID)
    assert copied is not None
    assert copied.value == (NOW - timedelta(hours=2)).isoformat()
    # Copied once: the store now decides, whatever the old place says.
    await cursors.set(window_key(MESSENGER), (NOW - timedelta(days=9)).isoformat())
    assert await channel.last_message(MESSENGER) == NOW - timedelta(hours=2)
    unreadable = Address(channel="instagram", conversation="9", user="9")
    assert await channel.last_message(unreadable) is None


async def test_an_older_message_does_not_replace_a_later_time_kept_among_the_cursors() -> None:
    cursors = MemoryCursors()
    await cursors.set(window_key(MESSENGER), NOW.isoformat())
    times = LastMessages(rule_state(MemoryPlatformState(), cursors))
    await times.wrote("messenger", PSID, NOW - timedelta(minutes=5))
    assert await times.at("messenger", PSID) == NOW


async def test_private_reply_marks_kept_among_the_cursors_are_still_honoured() -> None:
    cursors = MemoryCursors()
    at = (NOW - timedelta(hours=1)).timestamp()
    await cursors.set(legacy_key(PENDING, "messenger", "42"), f"1_2 {at}")
    await cursors.set(legacy_key(ANSWERED, "messenger", "42"), "1_2")
    await cursors.set(legacy_key(PENDING, "instagram", "43"), f"17 {at}")
    assert legacy_key(ANSWERED, "messenger", "42") == "meta:comment_answered:messenger:42"
    marks = PrivateReplies(cursors)
    assert await marks.claim("messenger", "42", NOW) is None  # answered before the upgrade
    claim = await marks.claim("instagram", "43", NOW)
    assert claim is not None
    assert claim.comment_id == "17"


async def test_of_two_workers_claiming_one_comment_one_gets_it() -> None:
    store = ReadTogether(ANSWERED)
    first, second = PrivateReplies(store=store), PrivateReplies(store=store)
    await first.await_reply("messenger", "42", "1_2", NOW - timedelta(minutes=1))
    claims = await asyncio.gather(
        first.claim("messenger", "42", NOW), second.claim("messenger", "42", NOW)
    )
    assert [c.comment_id for c in claims if c is not None] == ["1_2"]


async def test_a_stale_release_leaves_a_later_claim_alone() -> None:
    marks = PrivateReplies()
    await marks.await_reply("messenger", "42", "1_1", NOW - timedelta(hours=2))
    early = await marks.claim("messenger", "42", NOW)
    assert early is not None
    await marks.await_reply("messenger", "42", "1_2", NOW - timedelta(hours=1))
    later = await marks.claim("messenger", "42", NOW)
    assert later is not None
    await marks.release("messenger", "42", early)
    assert await marks.claim("messenger", "42", NOW) is None
    await marks.release("messenger", "42", later)
    again = await marks.claim("messenger", "42", NOW)
    assert again is not None
    assert again.comment_id == "1_2"


async def test_the_channel_is_built_with_the_application_store() -> None:
    store = MemoryPlatformState()
    cursors = MemoryCursors()
    await cursors.set(window_key(MESSENGER), NOW.isoformat())
    deps = ChannelDeps(
        secret=lambda: b"s" * 32,
        history=None,  # type: ignore[arg-type]
        cursors=cursors,
        platform_state=store,
    )
    channel = build(Settings(_env_file=None), deps)
    assert isinstance(channel, MetaChannel)
    assert channel.platform_state is store
    assert await channel.last_message(MESSENGER) == NOW
    assert await store.get(WINDOW, "messenger", PSID) is not None
