"""Answering a public comment: one private reply through the Send API, a public note, then the
thread under the window rules; against the fake Graph API over real HTTP (httpx)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from channels.base import DeliveryError, IngestOutcome, MemoryPlatformState
from channels.conversation import Address, Event, Reply
from channels.meta.channel import MetaChannel
from channels.meta.state import WINDOW
from tests.fakes.meta_api import (
    APP_SECRET,
    FEED_COMMENT,
    FEED_PAGE_ID,
    IG_ACCOUNT,
    IGSID,
    INSTAGRAM_COMMENT,
    PAGE_TOKEN,
    SEND_PATH,
    VERSION,
    FakeMetaApi,
    comment,
    graph_error,
    signed_headers,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
FB_USER = "139560936744123"
FB_COMMENT = "139560936744456_139620233405726"
IG_COMMENT = "17865799348089039"
FACEBOOK = Address(channel="messenger", workspace=FEED_PAGE_ID, conversation=FB_USER, user=FB_USER)
INSTAGRAM = Address(channel="instagram", workspace=IG_ACCOUNT, conversation=IGSID, user=IGSID)
CASES = [(FACEBOOK, FB_COMMENT, "comments"), (INSTAGRAM, IG_COMMENT, "replies")]
REPORT = Reply(
    text="I've logged INC-7 for you: VPN down at the Leeds office. Priority P2.",
    ticket_ref="INC-7",
)


@pytest.fixture(scope="module")
def meta_server() -> Iterator[FakeMetaApi]:
    with FakeMetaApi() as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def fake(meta_server: FakeMetaApi, no_network: None) -> FakeMetaApi:
    meta_server.reset()
    return meta_server


@pytest.fixture
def state() -> MemoryPlatformState:
    return MemoryPlatformState()


@pytest.fixture
async def channel(fake: FakeMetaApi, state: MemoryPlatformState) -> AsyncIterator[MetaChannel]:
    ch = MetaChannel(
        platform_state=state,
        app_secret=APP_SECRET,
        page_token=PAGE_TOKEN,
        api_url=fake.api_url,
        clock=lambda: NOW,
        timeout=2.0,
    )
    await ch.start()
    try:
        yield ch
    finally:
        await ch.aclose()


async def commented(
    channel: MetaChannel, address: Address, cid: str, ago: timedelta = timedelta(minutes=3)
) -> None:
    await channel.private.await_reply(address.channel, address.conversation, cid, NOW - ago)


async def wrote(state: MemoryPlatformState, address: Address, ago: timedelta) -> None:
    await state.put(WINDOW, address.channel, address.conversation, (NOW - ago).isoformat())


@pytest.mark.parametrize(("address", "cid", "edge"), CASES, ids=["facebook", "instagram"])
async def test_the_first_reply_answers_the_comment_privately_and_notes_it_in_public(
    channel: MetaChannel, fake: FakeMetaApi, address: Address, cid: str, edge: str
) -> None:
    await commented(channel, address, cid)
    delivery = await channel.send(address, REPORT)

    [private] = fake.private_replies()
    assert private["recipient"] == {"comment_id": cid}
    assert private["messaging_type"] == "RESPONSE"
    assert "tag" not in private
    assert "VPN down at the Leeds office" in private["message"]["text"]
    [public] = fake.public_replies()
    assert public.path == f"/{VERSION}/{cid}/{edge}"
    assert public.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    said = public.json()["message"]
    assert "INC-7" in said
    assert "Leeds" not in said
    assert "P2" not in said
    assert delivery.detail == "private_reply+public"
    assert delivery.external_id is not None


@pytest.mark.parametrize(("address", "cid", "edge"), CASES, ids=["facebook", "instagram"])
async def test_later_replies_wait_for_the_person_to_write_to_the_page(
    channel: MetaChannel,
    fake: FakeMetaApi,
    state: MemoryPlatformState,
    address: Address,
    cid: str,
    edge: str,
) -> None:
    await commented(channel, address, cid)
    await channel.send(address, REPORT)
    with pytest.raises(DeliveryError) as held:
        await channel.send(address, Reply(text="INC-7 is now in progress", ticket_ref="INC-7"))
    assert held.value.hold
    assert len(fake.calls) == 2

    await wrote(state, address, timedelta(minutes=1))
    await channel.send(address, Reply(text="INC-7 is now in progress", ticket_ref="INC-7"))
    [*_, last] = fake.sent()
    assert last["recipient"] == {"id": address.conversation}
    assert len(fake.private_replies()) == 1
    assert len(fake.public_replies()) == 1


async def test_a_reply_about_no_ticket_is_private_only(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    await commented(channel, FACEBOOK, FB_COMMENT)
    delivery = await channel.send(FACEBOOK, Reply(text="Hi! How can I help?"))
    assert delivery.detail == "private_reply"
    assert len(fake.private_replies()) == 1
    assert fake.public_replies() == []


async def test_a_refused_private_reply_falls_back_to_the_thread(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    fake.add_response(SEND_PATH, status=400, json=graph_error(100, message="(#100) deleted"))
    await commented(channel, INSTAGRAM, IG_COMMENT)
    with pytest.raises(DeliveryError) as held:
        await channel.send(INSTAGRAM, REPORT)
    assert held.value.hold
    assert len(fake.calls_to(SEND_PATH)) == 1
    assert fake.public_replies() == []


async def test_a_private_reply_that_failed_outright_is_tried_again(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    fake.add_response(SEND_PATH, status=500, json=graph_error(2, message="unavailable"))
    await commented(channel, FACEBOOK, FB_COMMENT)
    with pytest.raises(DeliveryError) as failed:
        await channel.send(FACEBOOK, REPORT)
    assert not failed.value.hold
    assert not failed.value.permanent
    await channel.send(FACEBOOK, REPORT)
    first, second = fake.private_replies()
    assert first["recipient"] == second["recipient"] == {"comment_id": FB_COMMENT}


async def test_a_private_reply_that_may_have_arrived_is_not_sent_twice(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    fake.add_fault(SEND_PATH, "drop")
    await commented(channel, FACEBOOK, FB_COMMENT)
    with pytest.raises(DeliveryError) as unknown:
        await channel.send(FACEBOOK, REPORT)
    assert unknown.value.ambiguous
    with pytest.raises(DeliveryError) as held:
        await channel.send(FACEBOOK, REPORT)
    assert held.value.hold
    assert len(fake.private_replies()) == 1


async def test_a_failed_public_note_does_not_undo_the_private_reply(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    fake.add_response(
        f"/{VERSION}/{FB_COMMENT}/comments", status=500, json=graph_error(2, message="down")
    )
    await commented(channel, FACEBOOK, FB_COMMENT)
    delivery = await channel.send(FACEBOOK, REPORT)
    assert delivery.detail == "private_reply"
    assert len(fake.private_replies()) == 1


async def test_someone_already_writing_to_the_page_gets_their_comment_answered_first(
    channel: MetaChannel, fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    await wrote(state, INSTAGRAM, timedelta(hours=1))
    await commented(channel, INSTAGRAM, IG_COMMENT)
    await channel.send(INSTAGRAM, REPORT)
    await channel.send(INSTAGRAM, Reply(text="Anything else?"))
    first, second = fake.sent()
    assert first["recipient"] == {"comment_id": IG_COMMENT}
    assert second["recipient"] == {"id": IGSID}
    assert second["messaging_type"] == "RESPONSE"


async def test_a_comment_too_old_to_answer_gives_the_reply_up(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    await commented(channel, FACEBOOK, FB_COMMENT, ago=timedelta(days=8))
    with pytest.raises(DeliveryError) as expired:
        await channel.send(FACEBOOK, REPORT)
    assert expired.value.permanent
    assert fake.calls == []


@pytest.mark.parametrize(
    ("name", "address", "cid"),
    [(FEED_COMMENT, FACEBOOK, FB_COMMENT), (INSTAGRAM_COMMENT, INSTAGRAM, IG_COMMENT)],
    ids=["facebook", "instagram"],
)
async def test_a_comment_through_the_webhook_marks_it_without_opening_the_window(
    channel: MetaChannel, name: str, address: Address, cid: str
) -> None:
    seen: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        seen.append(event)
        return IngestOutcome.ACCEPTED

    raw = comment(name, text="VPN is down", created=int((NOW - timedelta(minutes=1)).timestamp()))
    with TestClient(Starlette(routes=list(channel.routes(ingest)))) as client:
        answer = client.post("/meta/webhook", content=raw, headers=signed_headers(raw))
    assert answer.json() == {"accepted": 1, "duplicate": 0}
    [event] = seen
    assert event.event_id == f"comment:{cid}"
    assert await channel.last_message(address) is None
    pending = await channel.private.pending(address.channel, address.conversation)
    assert pending is not None
    assert pending.comment_id == cid
