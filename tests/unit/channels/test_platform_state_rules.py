"""Platform rule state as the channels use it: versions, the legacy look-up, lost races."""

from __future__ import annotations

import pytest

from channels.base import (
    MemoryCursors,
    MemoryPlatformState,
    RuleState,
    StateConflictError,
    StoredState,
)
from channels.twilio.render import Choice
from channels.twilio.rules import PlatformState
from channels.twilio.rules import legacy_key as twilio_key
from channels.x.public import ANSWERED, PENDING, PublicAnswers
from channels.x.public import legacy_key as x_key

NUMBER = "+14155550123"


class AlwaysBehind(MemoryPlatformState):
    """Another writer always changes the value between a read and the write."""

    async def compare_and_set(
        self, kind: str, channel: str, address: str, expected: int | None, value: str
    ) -> StoredState | None:
        await self.put(kind, channel, address, "theirs")
        return None


class CountingCursors(MemoryCursors):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)


async def test_memory_store_versions_and_compare_and_set() -> None:
    store = MemoryPlatformState()
    assert await store.compare_and_set("k", "c", "a", 1, "v") is None
    first = await store.compare_and_set("k", "c", "a", None, "v")
    assert first is not None
    assert first.version == 1
    assert await store.compare_and_set("k", "c", "a", None, "w") is None
    second = await store.put("k", "c", "a", "w")
    assert second.version == 2
    assert await store.compare_and_set("k", "c", "a", 1, "x") is None
    third = await store.compare_and_set("k", "c", "a", 2, "x")
    assert third is not None
    assert (third.value, third.version) == ("x", 3)


async def test_the_old_place_is_asked_once_per_address() -> None:
    cursors = CountingCursors()
    await cursors.set(twilio_key("optout", "sms", NUMBER), "1")
    state = PlatformState(MemoryPlatformState(), cursors)
    assert await state.opted_out("sms", NUMBER)
    assert await state.opted_out("sms", NUMBER)
    assert not await state.opted_out("sms", "+14155550111")
    assert not await state.opted_out("sms", "+14155550111")
    assert cursors.reads == 2


async def test_start_after_an_old_stop_wins_over_the_old_value() -> None:
    cursors = MemoryCursors()
    await cursors.set(twilio_key("optout", "whatsapp", NUMBER), "1")
    state = PlatformState(MemoryPlatformState(), cursors)
    await state.set_opted_out("whatsapp", NUMBER, False)
    assert not await state.opted_out("whatsapp", NUMBER)
    assert await cursors.get(twilio_key("optout", "whatsapp", NUMBER)) == "1"


async def test_choices_and_window_written_the_old_way_still_count() -> None:
    cursors = MemoryCursors()
    before = MemoryPlatformState()
    state = PlatformState(before)
    await state.customer_wrote(NUMBER)
    await state.remember_choices("sms", NUMBER, [Choice(key="1", action="approve", value="C")])
    # The values as an older release wrote them, under its cursor keys.
    for kind, channel in (("window", "whatsapp"), ("choices", "sms")):
        entry = await before.get(kind, channel, NUMBER)
        assert entry is not None
        await cursors.set(twilio_key(kind, channel, NUMBER), entry.value)
    upgraded = PlatformState(MemoryPlatformState(), cursors)
    assert await upgraded.in_window(NUMBER)
    assert await upgraded.choices("sms", NUMBER) == [Choice(key="1", action="approve", value="C")]


async def test_a_failed_text_puts_back_the_choices_it_replaced() -> None:
    state = PlatformState(MemoryPlatformState())
    first = [Choice(key="1", action="approve", value="CHG-1")]
    assert await state.remember_choices("sms", NUMBER, []) is None  # nothing to end
    await state.remember_choices("sms", NUMBER, first)
    remembered = await state.remember_choices("sms", NUMBER, [])
    assert remembered is not None
    assert await state.choices("sms", NUMBER) == []
    await state.restore_choices("sms", NUMBER, remembered)
    assert await state.choices("sms", NUMBER) == first


async def test_a_first_text_that_fails_leaves_no_choices_behind() -> None:
    state = PlatformState(MemoryPlatformState())
    remembered = await state.remember_choices(
        "sms", NUMBER, [Choice(key="1", action="approve", value="CHG-1")]
    )
    assert remembered is not None
    await state.restore_choices("sms", NUMBER, remembered)
    assert await state.choices("sms", NUMBER) == []


async def test_an_update_that_always_loses_gives_up_without_writing() -> None:
    view = RuleState(AlwaysBehind())
    with pytest.raises(StateConflictError):
        await view.update("k", "c", "a", lambda current: "mine")
    entry = await view.get("k", "c", "a")
    assert entry is not None
    assert entry.value == "theirs"


async def test_public_marks_of_older_releases_are_read() -> None:
    cursors = MemoryCursors()
    await cursors.set(x_key(ANSWERED, "x", "u1"), "1900000000000000005")
    answers = PublicAnswers(cursors)
    await answers.await_answer("u1", "1900000000000000005")
    assert await answers.claim("u1") is None
    await cursors.set(x_key(PENDING, "x", "u2"), "1900000000000000007 0")
    answers.window = 1e12  # the old mark's time is the epoch
    claim = await answers.claim("u2")
    assert claim is not None
    assert claim.tweet_id == "1900000000000000007"
    assert x_key(PENDING, "x", "u2") == "x.public.u2"


async def test_an_older_mention_does_not_replace_a_newer_mark() -> None:
    answers = PublicAnswers()
    await answers.await_answer("u3", "1900000000000000009")
    await answers.await_answer("u3", "1900000000000000008")
    claim = await answers.claim("u3")
    assert claim is not None
    assert claim.tweet_id == "1900000000000000009"
    assert await answers.claim("u3") is None
