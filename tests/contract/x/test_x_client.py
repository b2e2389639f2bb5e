"""Polling and sending through tweepy's `AsyncClient` against the fake X API over HTTP."""

from __future__ import annotations

import asyncio
import time

import pytest
import tweepy

from channels.base import DeliveryError
from channels.conversation import Address, Reply
from channels.x.channel import XChannel
from channels.x.parse import Account
from channels.x.polling import DM_LAST_KEY, DM_START_KEY, MENTIONS_START_KEY, SINCE_KEY
from channels.x.public import PENDING
from channels.x.render import PUBLIC_TEXT
from tests.fakes.x_api import (
    ACCOUNT,
    KEYS,
    FakeXApi,
    Inbox,
    MemoryCursors,
    dm_path,
    rate_limited,
    started,
)

US = ACCOUNT["id"]
CUSTOMER = "3001969357"
MENTIONS = f"/2/users/{US}/mentions"


def address(user: str = CUSTOMER) -> Address:
    return Address(channel="x", conversation=f"dm:{user}", user=user)


def ticket_reply(ref: str = "INC-7") -> Reply:
    return Reply(text=f"I've logged {ref} for VPN at priority P1.", ticket_ref=ref)


# -- the client itself ------------------------------------------------------------------------


async def test_requests_reach_the_fake_with_user_context_and_the_account_is_cached(
    channel: XChannel, fake: FakeXApi
) -> None:
    assert await channel.account() == Account(id=US, username=ACCOUNT["username"])
    assert await channel.account() == Account(id=US, username=ACCOUNT["username"])
    [call] = fake.calls_to("/2/users/me")
    assert call.headers["host"] == fake.base_url.removeprefix("http://")
    assert call.headers["authorization"].startswith("OAuth ")
    assert f'oauth_consumer_key="{KEYS["consumer_key"]}"' in call.headers["authorization"]


async def test_an_oauth2_user_token_is_sent_as_bearer(fake: FakeXApi) -> None:
    ch = XChannel(cursors=MemoryCursors(), bearer_token="user-token-abc", api_url=fake.base_url)
    await ch.start()
    try:
        await ch.send(address(), Reply(text="hello"))
    finally:
        await ch.aclose()
    [call] = fake.calls_to(dm_path(CUSTOMER))
    assert call.headers["authorization"] == "Bearer user-token-abc"
    assert call.json() == {"text": "hello"}


# -- polling mentions -------------------------------------------------------------------------


async def test_every_page_is_ingested_before_since_id_moves(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    ids = [
        fake.add_mention(f"printer {i} is jammed", author_id=CUSTOMER, username="c")
        for i in range(12)
    ]
    fake.add_mention("our own announcement", author_id=US, username="TwitterDev")
    fake.add_mention("RT the VPN is down", author_id="42", username="someone", retweet=True)

    assert await channel.poll_mentions(inbox) == 12
    assert inbox.ids == [f"tweet:{i}" for i in ids]
    assert cursors.values[SINCE_KEY] == max(ids + [t["id"] for t in fake.mentions], key=int)
    calls = fake.calls_to(MENTIONS)
    assert len(calls) == 3
    assert [c.query.get("pagination_token") for c in calls] == [None, ["5"], ["10"]]
    assert all("since_id" not in c.query and "start_time" in c.query for c in calls)

    assert await channel.poll_mentions(inbox) == 0
    assert fake.last(MENTIONS).query["since_id"] == [cursors.values[SINCE_KEY]]
    assert len(inbox.events) == 12


async def test_a_failure_between_pages_moves_nothing_and_loses_nothing(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    ids = [
        fake.add_mention(f"wifi {i} is down", author_id=CUSTOMER, username="c") for i in range(12)
    ]
    fake.fail_call(MENTIONS, 2, status=503, json={"title": "Service Unavailable"})

    with pytest.raises(tweepy.TwitterServerError):
        await channel.poll_mentions(inbox)
    assert SINCE_KEY not in cursors.values
    assert inbox.events == []

    assert await channel.poll_mentions(inbox) == 12
    assert sorted(inbox.ids) == sorted(f"tweet:{i}" for i in ids)
    assert cursors.values[SINCE_KEY] == max(ids, key=int)


async def test_an_inbox_failure_halfway_moves_nothing_and_loses_nothing(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    ids = [
        fake.add_mention(f"CRM {i} is slow", author_id=CUSTOMER, username="c") for i in range(12)
    ]
    inbox.fail_after = 6
    with pytest.raises(OSError, match="unavailable"):
        await channel.poll_mentions(inbox)
    assert SINCE_KEY not in cursors.values
    assert len(inbox.events) == 6

    inbox.fail_after = None
    assert await channel.poll_mentions(inbox) == 12
    assert sorted(inbox.ids) == sorted(f"tweet:{i}" for i in ids)
    assert [o.value for o in inbox.outcomes].count("accepted") == 12
    assert cursors.values[SINCE_KEY] == max(ids, key=int)


async def test_a_restart_resumes_from_the_stored_since_id(
    fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    tid = fake.add_mention("email is down", author_id=CUSTOMER, username="c")
    first = await started(fake, cursors)
    await first.poll_mentions(inbox)
    await first.aclose()

    fake.honour_since_id = False  # the platform serves the same mention again
    second = await started(fake, cursors)
    try:
        await second.poll_mentions(inbox)
    finally:
        await second.aclose()
    assert fake.last(MENTIONS).query["since_id"] == [tid]
    assert inbox.ids == [f"tweet:{tid}"]
    assert [o.value for o in inbox.outcomes] == ["accepted", "duplicate"]


async def test_the_first_poll_starts_at_the_backfill_window(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    fake.add_mention(
        "from last year", author_id=CUSTOMER, username="c", created_at="2024-01-15T10:30:00.000Z"
    )
    fresh = fake.add_mention("the VPN is down", author_id=CUSTOMER, username="c")
    await channel.poll_mentions(inbox)
    assert inbox.ids == [f"tweet:{fresh}"]
    start = cursors.values[MENTIONS_START_KEY]
    assert fake.last(MENTIONS).query["start_time"] == [start]


async def test_a_rate_limited_poll_waits_for_the_advertised_reset(
    fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    reset = int(time.time()) + 2
    fake.add_response(MENTIONS, **rate_limited(reset))
    tid = fake.add_mention("the VPN is down", author_id=CUSTOMER, username="c")
    ch = await started(fake, cursors, poll_interval=1.0, dm_poll_interval=0)
    stop = asyncio.Event()
    task = asyncio.create_task(ch.run(inbox, stop))
    try:
        await asyncio.to_thread(fake.wait_for, MENTIONS, 2, 15.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await ch.aclose()
    first, second = fake.wall_times(MENTIONS)[:2]
    assert first < reset <= second
    assert inbox.ids == [f"tweet:{tid}"]


async def test_the_poller_survives_a_store_outage_and_retries(
    fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    tid = fake.add_mention("the VPN is down", author_id=CUSTOMER, username="c")
    inbox.fail = True
    ch = await started(fake, cursors, poll_interval=1.0, dm_poll_interval=0)
    stop = asyncio.Event()
    task = asyncio.create_task(ch.run(inbox, stop))
    try:
        for _ in range(500):
            if inbox.refused:
                break
            await asyncio.sleep(0.01)
        assert inbox.refused == 1
        inbox.fail = False
        await asyncio.to_thread(fake.wait_for, MENTIONS, 2, 10.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
        await ch.aclose()
    assert not task.cancelled()
    assert inbox.ids == [f"tweet:{tid}"]


# -- polling DMs ------------------------------------------------------------------------------


async def test_dms_are_polled_once_each_and_our_own_are_skipped(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    cursors.values[DM_START_KEY] = "2020-01-01T00:00:00Z"
    first = fake.add_dm("the VPN", sender_id=CUSTOMER, username="c")
    fake.add_dm("Which system is affected?", sender_id=US, username="TwitterDev")
    assert await channel.poll_direct_messages(inbox) == 1
    assert inbox.ids == [f"dm:{first}"]
    assert inbox.events[0].address == address()
    second = fake.add_dm("also email", sender_id=CUSTOMER, username="c")
    assert await channel.poll_direct_messages(inbox) == 1
    assert inbox.ids == [f"dm:{first}", f"dm:{second}"]
    assert cursors.values[DM_LAST_KEY] == second
    query = fake.last("/2/dm_events").query
    assert query["event_types"] == ["MessageCreate"]
    assert "sender_id" in query["dm_event.fields"][0]


async def test_dms_from_before_the_first_run_are_not_answered(
    channel: XChannel, fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    old = fake.add_dm("ancient history", sender_id=CUSTOMER, username="c")
    fake.dm_events[-1]["created_at"] = "2022-10-19T20:58:00.000Z"
    new = fake.add_dm("the printer is jammed", sender_id=CUSTOMER, username="c")
    await channel.poll_direct_messages(inbox)
    assert inbox.ids == [f"dm:{new}"]
    assert f"dm:{old}" not in inbox.ids


# -- sending ----------------------------------------------------------------------------------


async def mention_seen(channel: XChannel, fake: FakeXApi, inbox: Inbox) -> str:
    tid = fake.add_mention("the VPN is down for everyone", author_id=CUSTOMER, username="c")
    await channel.poll_mentions(inbox)
    return tid


async def test_a_reply_without_a_ticket_is_a_dm(
    channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    await mention_seen(channel, fake, inbox)
    delivery = await channel.send(
        address(), Reply(text="Sorry to hear that. Which system is affected?")
    )
    assert fake.dms(CUSTOMER) == ["Sorry to hear that. Which system is affected?"]
    assert fake.tweets() == []
    assert delivery.external_id is not None


async def test_the_first_ticket_reply_answers_the_tweet_once_in_public(
    channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    tid = await mention_seen(channel, fake, inbox)
    await channel.send(address(), ticket_reply("INC-7"))
    await channel.send(address(), Reply(text="INC-7 is now in progress.", ticket_ref="INC-7"))
    [tweet] = fake.tweets()
    assert tweet == {
        "text": PUBLIC_TEXT.format(ref="INC-7"),
        "reply": {"in_reply_to_tweet_id": tid},
    }
    assert fake.dms(CUSTOMER) == [
        "I've logged INC-7 for VPN at priority P1.",
        "INC-7 is now in progress.",
    ]

    # A new complaint gets its own public answer.
    newer = await mention_seen(channel, fake, inbox)
    await channel.send(address(), ticket_reply("INC-8"))
    assert [t["reply"]["in_reply_to_tweet_id"] for t in fake.tweets()] == [tid, newer]


async def test_an_old_complaint_is_not_answered_in_public(
    channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    tid = await mention_seen(channel, fake, inbox)
    seen = f"{tid} {int(time.time()) - 2 * 86_400}"
    await channel.public.store.put(PENDING, "x", CUSTOMER, seen)
    await channel.send(address(), ticket_reply())
    assert fake.tweets() == []
    assert len(fake.dms(CUSTOMER)) == 1


async def test_a_duplicate_public_reply_counts_as_posted(
    channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    await mention_seen(channel, fake, inbox)
    fake.add_response(
        "/2/tweets",
        status=403,
        json={
            "detail": "You are not allowed to create a Tweet with duplicate content.",
            "status": 403,
        },
    )
    delivery = await channel.send(address(), ticket_reply())
    assert delivery.detail == "public+dm"
    await channel.send(address(), ticket_reply())
    assert len(fake.tweets()) == 1
    assert len(fake.dms(CUSTOMER)) == 2


async def test_a_rate_limited_public_reply_is_retried_later_and_posted_once(
    channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    await mention_seen(channel, fake, inbox)
    reset = int(time.time()) + 5
    fake.add_response("/2/tweets", **rate_limited(reset))
    with pytest.raises(DeliveryError) as refused:
        await channel.send(address(), ticket_reply())
    assert refused.value.retry_after is not None
    assert reset - time.time() < refused.value.retry_after <= reset - time.time() + 1.5
    assert not refused.value.permanent
    assert not refused.value.ambiguous
    assert fake.dms(CUSTOMER) == []

    await channel.send(address(), ticket_reply())
    assert len(fake.calls_to("/2/tweets")) == 2
    assert len(fake.dms(CUSTOMER)) == 1


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(503, False), (500, False), (401, False), (403, True), (400, True), (404, True)],
)
async def test_dm_refusals_map_to_retry_or_dead_letter(
    channel: XChannel, fake: FakeXApi, status: int, permanent: bool
) -> None:
    fake.add_response(dm_path(CUSTOMER), status=status, json={"title": "refused", "status": status})
    with pytest.raises(DeliveryError) as refused:
        await channel.send(address(), Reply(text="hello"))
    assert refused.value.permanent is permanent
    assert not refused.value.ambiguous
    assert refused.value.platform == "x"


async def test_a_rate_limited_dm_says_when_to_retry(channel: XChannel, fake: FakeXApi) -> None:
    reset = int(time.time()) + 30
    fake.add_response(dm_path(CUSTOMER), **rate_limited(reset))
    with pytest.raises(DeliveryError) as refused:
        await channel.send(address(), Reply(text="hello"))
    assert refused.value.retry_after is not None
    assert 28 < refused.value.retry_after <= 32


async def test_a_public_post_that_timed_out_is_ambiguous_and_not_repeated(
    fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    ch = await started(fake, cursors, timeout=0.5)
    try:
        await mention_seen(ch, fake, inbox)
        fake.add_response("/2/tweets", status=201, json={"data": {"id": "1"}}, delay=1.5)
        with pytest.raises(DeliveryError) as refused:
            await ch.send(address(), Reply(text="We're aware of the outage.", public=True))
        assert refused.value.ambiguous
        # Whatever happened, the complaint is not answered in public a second time.
        await ch.send(address(), ticket_reply())
    finally:
        await ch.aclose()
    assert len(fake.calls_to("/2/tweets")) == 1
    assert len(fake.dms(CUSTOMER)) == 1


async def test_a_timed_out_public_part_still_sends_the_dm(
    fake: FakeXApi, cursors: MemoryCursors, inbox: Inbox
) -> None:
    ch = await started(fake, cursors, timeout=0.5)
    try:
        await mention_seen(ch, fake, inbox)
        fake.add_response("/2/tweets", status=201, json={"data": {"id": "1"}}, delay=1.5)
        delivery = await ch.send(address(), ticket_reply())
        await ch.send(address(), ticket_reply())
    finally:
        await ch.aclose()
    assert delivery.detail == "public+dm"
    assert len(fake.calls_to("/2/tweets")) == 1
    assert len(fake.dms(CUSTOMER)) == 2


async def test_a_dm_that_timed_out_is_ambiguous(fake: FakeXApi, cursors: MemoryCursors) -> None:
    ch = await started(fake, cursors, timeout=0.5)
    fake.add_response(dm_path(CUSTOMER), status=201, json={"data": {}}, delay=1.5)
    try:
        with pytest.raises(DeliveryError) as refused:
            await ch.send(address(), Reply(text="hello"))
    finally:
        await ch.aclose()
    assert refused.value.ambiguous


async def test_an_unreachable_api_is_retried_not_ambiguous(
    cursors: MemoryCursors, no_network: None
) -> None:
    with FakeXApi() as gone:
        url = gone.base_url
    ch = XChannel(cursors=cursors, api_url=url, **KEYS)
    await ch.start()
    try:
        with pytest.raises(DeliveryError) as refused:
            await ch.send(address(), Reply(text="hello"))
    finally:
        await ch.aclose()
    assert not refused.value.ambiguous
    assert not refused.value.permanent
