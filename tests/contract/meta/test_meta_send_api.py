"""The Meta channel's Send API calls against the fake Graph API over real HTTP (httpx)."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from channels.base import DeliveryError, MemoryPlatformState
from channels.conversation import Address, Button, Reply
from channels.meta.channel import MetaChannel
from channels.meta.parse import decode_payload
from channels.meta.state import WINDOW
from tests.fakes.meta_api import (
    APP_SECRET,
    IG_ACCOUNT,
    IGSID,
    PAGE_ID,
    PAGE_TOKEN,
    PSID,
    SEND_PATH,
    WINDOW_CLOSED,
    FakeMetaApi,
    graph_error,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MESSENGER = Address(channel="messenger", workspace=PAGE_ID, conversation=PSID, user=PSID)
INSTAGRAM = Address(channel="instagram", workspace=IG_ACCOUNT, conversation=IGSID, user=IGSID)


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


async def open_channel(api_url: str, state: MemoryPlatformState, **options: object) -> MetaChannel:
    channel = MetaChannel(
        platform_state=state,
        app_secret=APP_SECRET,
        page_token=PAGE_TOKEN,
        api_url=api_url,
        clock=lambda: NOW,
        timeout=2.0,
        **options,  # type: ignore[arg-type]
    )
    await channel.start()
    return channel


@pytest.fixture
async def channel(fake: FakeMetaApi, state: MemoryPlatformState) -> AsyncIterator[MetaChannel]:
    ch = await open_channel(fake.api_url, state)
    try:
        yield ch
    finally:
        await ch.aclose()


async def wrote(state: MemoryPlatformState, address: Address, ago: timedelta) -> None:
    await state.put(WINDOW, address.channel, address.conversation, (NOW - ago).isoformat())


@pytest.mark.parametrize("address", [MESSENGER, INSTAGRAM], ids=["messenger", "instagram"])
async def test_a_reply_is_a_response_with_quick_replies_and_the_token_in_a_header(
    channel: MetaChannel, fake: FakeMetaApi, state: MemoryPlatformState, address: Address
) -> None:
    await wrote(state, address, timedelta(minutes=5))
    reply = Reply(
        text="Is the printer working again?",
        buttons=(Button(label="Yes", action="affirm"), Button(label="No", action="deny")),
    )
    delivery = await channel.send(address, reply)

    call = fake.last(SEND_PATH)
    assert delivery.external_id is not None
    assert delivery.external_id.startswith("m_fake")
    assert call.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    assert "access_token" not in call.query
    sent = call.json()
    assert sent["recipient"] == {"id": address.conversation}
    assert sent["messaging_type"] == "RESPONSE"
    assert "tag" not in sent
    assert sent["message"]["text"] == "Is the printer working again?"
    titles = [q["title"] for q in sent["message"]["quick_replies"]]
    assert titles == ["Yes", "No"]
    assert decode_payload(sent["message"]["quick_replies"][0]["payload"]) == ("affirm", "", "")


async def test_after_the_window_the_reply_is_held_without_calling_meta(
    channel: MetaChannel, fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    await wrote(state, MESSENGER, timedelta(hours=25))
    with pytest.raises(DeliveryError) as held:
        await channel.send(MESSENGER, Reply(text="INC-1 is resolved"))
    assert held.value.hold
    assert held.value.retry_after == channel.hold_seconds
    assert not held.value.permanent
    assert fake.calls_to(SEND_PATH) == []

    await wrote(state, MESSENGER, timedelta(days=8))
    with pytest.raises(DeliveryError) as expired:
        await channel.send(MESSENGER, Reply(text="INC-1 is resolved"))
    assert expired.value.permanent


async def test_the_human_agent_tag_extends_the_window_to_seven_days_when_allowed(
    fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    channel = await open_channel(fake.api_url, state, human_agent_tag=True)
    try:
        await wrote(state, INSTAGRAM, timedelta(days=3))
        await channel.send(INSTAGRAM, Reply(text="Bob on INC-2: fixed, try again", human=True))
    finally:
        await channel.aclose()
    sent = fake.last(SEND_PATH).json()
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


async def test_the_bots_own_notices_never_carry_the_human_agent_tag(
    fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    channel = await open_channel(fake.api_url, state, human_agent_tag=True)
    try:
        await wrote(state, MESSENGER, timedelta(days=3))
        with pytest.raises(DeliveryError) as held:
            await channel.send(MESSENGER, Reply(text="INC-2 breached its response target"))
        assert held.value.hold
        assert fake.calls_to(SEND_PATH) == []
        # Within the day it goes as a plain response, a person's words or not.
        await wrote(state, MESSENGER, timedelta(hours=1))
        await channel.send(MESSENGER, Reply(text="INC-2 is resolved"))
    finally:
        await channel.aclose()
    sent = fake.last(SEND_PATH).json()
    assert sent["messaging_type"] == "RESPONSE"
    assert "tag" not in sent


async def test_meta_saying_the_window_is_closed_holds_the_reply(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    fake.add_response(SEND_PATH, status=400, json=WINDOW_CLOSED)
    with pytest.raises(DeliveryError) as held:
        await channel.send(MESSENGER, Reply(text="hello"))
    assert held.value.hold
    assert len(fake.calls_to(SEND_PATH)) == 1


@pytest.mark.parametrize(
    ("status", "body", "retry_after", "permanent"),
    [
        (
            400,
            graph_error(613, message="Calls to this api have exceeded the rate limit."),
            60.0,
            False,
        ),
        (429, graph_error(4), 60.0, False),
        (500, graph_error(2, message="Service temporarily unavailable"), None, False),
        (400, graph_error(551, message="This person isn't available right now."), None, True),
        (400, graph_error(100, 2018001, "No matching user found"), None, True),
        (400, graph_error(190, message="Invalid OAuth access token."), None, False),
    ],
)
async def test_graph_errors_become_delivery_instructions(
    channel: MetaChannel,
    fake: FakeMetaApi,
    status: int,
    body: dict[str, object],
    retry_after: float | None,
    permanent: bool,
) -> None:
    fake.add_response(SEND_PATH, status=status, json=body)
    with pytest.raises(DeliveryError) as refused:
        await channel.send(MESSENGER, Reply(text="hello"))
    assert refused.value.retry_after == retry_after
    assert refused.value.permanent is permanent
    assert not refused.value.hold
    assert not refused.value.ambiguous


async def test_a_lost_answer_is_ambiguous_and_a_refused_connection_is_not(
    channel: MetaChannel, fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    fake.add_fault(SEND_PATH, "drop")
    with pytest.raises(DeliveryError) as lost:
        await channel.send(MESSENGER, Reply(text="hello"))
    assert lost.value.ambiguous
    assert len(fake.calls_to(SEND_PATH)) == 1

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    nowhere = await open_channel(f"http://127.0.0.1:{closed_port}/v21.0", state)
    try:
        with pytest.raises(DeliveryError) as refused:
            await nowhere.send(MESSENGER, Reply(text="hello"))
    finally:
        await nowhere.aclose()
    assert not refused.value.ambiguous
    assert not refused.value.permanent


async def test_addresses_that_are_not_meta_page_scoped_ids_are_refused_for_good(
    channel: MetaChannel, fake: FakeMetaApi
) -> None:
    for address in (
        Address(channel="slack", conversation="C1", user="U1"),
        Address(channel="messenger", conversation="../me", user="x"),
    ):
        with pytest.raises(DeliveryError) as refused:
            await channel.send(address, Reply(text="hello"))
        assert refused.value.permanent
    assert fake.calls_to(SEND_PATH) == []


async def test_without_a_page_token_replies_wait(
    fake: FakeMetaApi, state: MemoryPlatformState
) -> None:
    channel = MetaChannel(platform_state=state, app_secret=APP_SECRET, api_url=fake.api_url)
    await channel.start()
    with pytest.raises(DeliveryError) as waiting:
        await channel.send(MESSENGER, Reply(text="hello"))
    assert waiting.value.retry_after is not None
    assert fake.calls_to(SEND_PATH) == []


async def test_the_page_token_is_in_no_log_line_at_debug(
    channel: MetaChannel, fake: FakeMetaApi, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_response(SEND_PATH, status=400, json=graph_error(190))
    # The application's logging setup may have quietened httpx or stopped it propagating.
    client_logs = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    for logger in client_logs:
        logger.addHandler(caplog.handler)
    try:
        with (
            caplog.at_level(logging.DEBUG),
            caplog.at_level(logging.DEBUG, logger="httpx"),
            caplog.at_level(logging.DEBUG, logger="httpcore"),
        ):
            with pytest.raises(DeliveryError) as refused:
                await channel.send(MESSENGER, Reply(text="hello"))
            await channel.send(MESSENGER, Reply(text="hello"))
    finally:
        for logger in client_logs:
            logger.removeHandler(caplog.handler)
    assert any("me/messages" in r.getMessage() for r in caplog.records)
    assert all(PAGE_TOKEN not in r.getMessage() for r in caplog.records)
    assert PAGE_TOKEN not in str(refused.value)
