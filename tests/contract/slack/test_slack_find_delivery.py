"""`SlackChannel.find_delivery`: after an interrupted send, did the post reach Slack?

The dispatcher asks this for a row left `sending`; the answer comes from the conversation's
history on the local Slack Web API, by the delivery key in the message metadata.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.outbox import DeliveryLookup
from channels.conversation import Address, Reply
from channels.slack import SlackChannel
from tests.fakes.slack_api import FakeSlackApi

THREAD = Address(
    channel="slack", workspace="T111", conversation="C0HELP", thread="1700.1", user="U0ALICE"
)


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


@pytest.fixture
async def slack(fake: FakeSlackApi) -> AsyncIterator[SlackChannel]:
    channel = SlackChannel(bot_token="xoxb-test", signing_secret="s" * 32, api_url=fake.api_url)
    await channel.start()
    try:
        yield channel
    finally:
        await channel.aclose()


def test_the_slack_channel_answers_the_dispatchers_question() -> None:
    assert issubclass(SlackChannel, DeliveryLookup)


async def test_a_post_that_arrived_is_found_in_its_thread(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    sent = await slack.send(THREAD, Reply(text="Logged INC-4", delivery_key="sb-41"))
    found = await slack.find_delivery(THREAD, Reply(text="Logged INC-4", delivery_key="sb-41"))
    assert found is not None
    assert found.external_id == sent.external_id
    [asked] = fake.sent("conversations.replies")
    assert (asked["channel"], asked["ts"]) == ("C0HELP", "1700.1")


async def test_an_answer_to_a_channel_click_is_looked_for_in_the_clickers_dm(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    clicked = Address(channel="slack", conversation="C0APPR", user="U0BOB")
    sent = await slack.send(clicked, Reply(text="Only approvers decide", delivery_key="sb-42"))
    found = await slack.find_delivery(clicked, Reply(text="x", delivery_key="sb-42"))
    assert found is not None
    assert found.external_id == sent.external_id
    assert fake.sent("conversations.history")[0]["channel"] == "D0BOB"


async def test_nothing_posted_is_none(fake: FakeSlackApi, slack: SlackChannel) -> None:
    await slack.send(THREAD, Reply(text="another reply", delivery_key="sb-43"))
    assert await slack.find_delivery(THREAD, Reply(text="x", delivery_key="sb-44")) is None
    assert len(fake.sent("conversations.replies")) == 1


async def test_an_edit_leaves_nothing_to_look_for(fake: FakeSlackApi, slack: SlackChannel) -> None:
    edit = Reply(text="x", delivery_key="sb-45", edit_id="C0HELP:1700.2")
    assert await slack.find_delivery(THREAD, edit) is None
    assert fake.sent("conversations.replies") == []


async def test_a_platform_error_raises(fake: FakeSlackApi, slack: SlackChannel) -> None:
    fake.add_response("/api/conversations.replies", json={"ok": False, "error": "missing_scope"})
    with pytest.raises(Exception, match="cannot tell"):
        await slack.find_delivery(THREAD, Reply(text="x", delivery_key="sb-46"))
