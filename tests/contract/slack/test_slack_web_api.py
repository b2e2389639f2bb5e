"""`SlackChannel.send` and `profile` against a local Slack Web API, through real slack-sdk.

Covers what the outbox dispatcher relies on: threads, card updates, App Home, the flags of
`DeliveryError` (Retry-After, permanent, ambiguous), and no double post after an attempt
whose outcome was uncertain.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from channels.base import DeliveryError
from channels.conversation import Address, Button, Reply, Section, TicketCard
from channels.slack import SlackChannel
from tests.fakes.server import Call, Canned
from tests.fakes.slack_api import FakeSlackApi
from tests.payloads import load

RATE_LIMITED = load("slack", "web_api_429_ratelimited_response.json")
USERS = {"U0ALICE": {"email": "alice@example.com", "real_name": "Alice Example"}}


def thread(conversation: str = "C0GENERAL", user: str = "U0ALICE") -> Address:
    return Address(
        channel="slack", workspace="T111", conversation=conversation, thread="1700.1", user=user
    )


CARD = TicketCard(ref="CHG-3", title="Restart mail", kind="change", status="approved", version=2)


class Flaky(FakeSlackApi):
    """Posts the message, then answers badly: Slack did the work but we never heard so."""

    def __init__(self, *, status: int = 200, error: str = "", delay: float = 0.0) -> None:
        super().__init__(USERS)
        self.status, self.error, self.delay = status, error, delay
        self.failures = 1
        self.store_first = True

    def respond(self, call: Call) -> Canned | None:
        if call.path == "/api/chat.postMessage" and self.failures > 0:
            self.failures -= 1
            if self.store_first:
                self._chat_postMessage(self.args(call))
            body = {"ok": self.status == 200 and not self.error, "error": self.error or None}
            return Canned(self.status, body, delay=self.delay)
        return super().respond(call)


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(USERS) as api:
        yield api


async def started(api_url: str, timeout: float = 5.0) -> SlackChannel:
    channel = SlackChannel(
        bot_token="xoxb-test-token", signing_secret="s" * 32, api_url=api_url, timeout=timeout
    )
    await channel.start()
    return channel


@pytest.fixture
async def slack(fake: FakeSlackApi) -> AsyncIterator[SlackChannel]:
    channel = await started(fake.api_url)
    try:
        yield channel
    finally:
        await channel.aclose()


async def test_reply_goes_to_the_thread_with_its_delivery_key(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    reply = Reply(text="Logged INC-1 for <!channel> & co", ticket_ref="INC-1", delivery_key="sb-7")
    delivery = await slack.send(thread(), reply)
    [sent] = fake.sent("chat.postMessage")
    assert sent["channel"] == "C0GENERAL"
    assert sent["thread_ts"] == "1700.1"
    assert sent["metadata"] == {"event_type": "switchboard_reply", "event_payload": {"key": "sb-7"}}
    assert sent["unfurl_links"] is False
    assert sent["text"] == "Logged INC-1 for &lt;!channel&gt; &amp; co"
    [posted] = fake.in_channel("C0GENERAL")
    assert delivery.external_id == f"C0GENERAL:{posted.ts}"
    assert fake.last("/api/chat.postMessage").headers["authorization"] == "Bearer xoxb-test-token"


async def test_answer_to_a_click_on_a_channel_card_goes_to_the_clickers_dm(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    clicked = Address(channel="slack", workspace="T111", conversation="C0APPR", user="U0BOB")
    await slack.send(clicked, Reply(text="Only approvers can decide CHG-3.", delivery_key="sb-1"))
    announce = Address(channel="slack", conversation="C0APPR", user="")
    await slack.send(announce, Reply(text="CHG-3 needs approval", card=CARD, delivery_key="sb-2"))
    assert [p.channel for p in fake.posted] == ["D0BOB", "C0APPR"]
    assert fake.posted[0].thread_ts is None


async def test_card_edit_updates_in_place_once_per_state(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    clicked = Address(channel="slack", workspace="T111", conversation="C0APPR", user="U0CAROL")
    mine = Reply(text="You approved CHG-3.", card=CARD, ticket_ref="CHG-3", edit_id="171.5")
    first = await slack.send(clicked, mine)
    [update] = fake.sent("chat.update")
    assert (update["channel"], update["ts"]) == ("C0APPR", "171.5")
    assert update["blocks"][0]["text"]["text"] == "CHG-3 is approved."
    assert "<@U0CAROL>" in update["blocks"][-1]["elements"][0]["text"]
    assert first.external_id == "C0APPR:171.5"

    topic = Address(channel="slack", conversation="C0APPR", user="")
    same = Reply(text="CHG-3 was approved by Carol.", card=CARD, edit_id="C0APPR:171.5")
    again = await slack.send(topic, same)
    assert again.detail == "unchanged"
    assert len(fake.sent("chat.update")) == 1

    closed = TicketCard(ref="CHG-3", title="Restart mail", kind="change", status="closed")
    await slack.send(topic, Reply(text="Closed.", card=closed, edit_id="C0APPR:171.5"))
    assert len(fake.sent("chat.update")) == 2
    assert fake.posted == []


async def test_update_of_a_deleted_message_posts_a_new_one(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    fake.add_response("/api/chat.update", json={"ok": False, "error": "message_not_found"})
    delivery = await slack.send(
        thread(), Reply(text="Resolved", card=CARD, edit_id="171.9", delivery_key="sb-4")
    )
    [posted] = fake.posted
    assert (posted.channel, posted.thread_ts) == ("C0GENERAL", "1700.1")
    assert delivery.external_id == f"C0GENERAL:{posted.ts}"


async def test_rate_limit_is_reported_with_its_wait_and_not_retried_inside(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    fake.add_response(
        "/api/chat.postMessage",
        status=RATE_LIMITED["status"],
        json=RATE_LIMITED["body"],
        headers={"Retry-After": "2"},
    )
    with pytest.raises(DeliveryError) as caught:
        await slack.send(thread(), Reply(text="hello", delivery_key="sb-5"))
    assert caught.value.retry_after == 2.0
    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert len(fake.calls_to("/api/chat.postMessage")) == 1
    assert fake.posted == []


@pytest.mark.parametrize(
    ("status", "error"), [(500, "internal_error"), (200, "fatal_error"), (503, "")]
)
async def test_a_server_error_after_posting_is_found_not_posted_again(
    status: int, error: str
) -> None:
    with Flaky(status=status, error=error) as api:
        slack = await started(api.api_url)
        try:
            delivery = await slack.send(thread(), Reply(text="once", delivery_key="sb-9"))
        finally:
            await slack.aclose()
        [posted] = api.posted
        assert delivery.external_id == f"C0GENERAL:{posted.ts}"
        assert len(api.calls_to("/api/chat.postMessage")) == 1
        [looked] = api.sent("conversations.replies")
        assert looked["include_all_metadata"] in ("true", "1", True)


async def test_a_timeout_after_posting_is_found_not_posted_again() -> None:
    with Flaky(delay=1.5) as api:
        slack = await started(api.api_url, timeout=0.5)
        try:
            top = Address(channel="slack", conversation="C0INC", user="")
            delivery = await slack.send(top, Reply(text="P1 incident", delivery_key="sb-11"))
        finally:
            await slack.aclose()
        [posted] = api.posted
        assert delivery.external_id == f"C0INC:{posted.ts}"
        assert len(api.calls_to("/api/chat.postMessage")) == 1
        assert len(api.calls_to("/api/conversations.history")) == 1


async def test_an_error_before_posting_is_retried_once_without_duplicates() -> None:
    with Flaky(status=500, error="internal_error") as api:
        api.store_first = False
        slack = await started(api.api_url)
        try:
            reply = Reply(text="once", delivery_key="sb-12")
            with pytest.raises(DeliveryError) as caught:
                await slack.send(thread(), reply)
            assert not caught.value.ambiguous
            assert caught.value.retry_after is None
            await slack.send(thread(), reply)
        finally:
            await slack.aclose()
        assert len(api.posted) == 1
        # The retry looked for the first attempt before posting.
        assert len(api.calls_to("/api/conversations.replies")) == 2


async def test_uncertain_and_unverifiable_is_ambiguous() -> None:
    with Flaky(status=502) as api:
        api.add_response("/api/conversations.replies", json={"ok": False, "error": "missing_scope"})
        slack = await started(api.api_url)
        try:
            with pytest.raises(DeliveryError) as caught:
                await slack.send(thread(), Reply(text="maybe", delivery_key="sb-13"))
        finally:
            await slack.aclose()
        assert caught.value.ambiguous
        assert len(api.calls_to("/api/chat.postMessage")) == 1


async def test_no_connection_at_all_is_a_plain_retry() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    slack = await started(f"http://127.0.0.1:{port}/api/")
    try:
        with pytest.raises(DeliveryError) as caught:
            await slack.send(thread(), Reply(text="x", delivery_key="sb-14"))
    finally:
        await slack.aclose()
    assert not caught.value.ambiguous
    assert not caught.value.permanent


@pytest.mark.parametrize("error", ["channel_not_found", "is_archived", "invalid_auth"])
async def test_refusals_that_retrying_cannot_fix_are_permanent(
    fake: FakeSlackApi, slack: SlackChannel, error: str
) -> None:
    fake.add_response("/api/chat.postMessage", json={"ok": False, "error": error})
    with pytest.raises(DeliveryError) as caught:
        await slack.send(thread(), Reply(text="x", delivery_key="sb-15"))
    assert caught.value.permanent


async def test_joins_a_public_announcement_channel_before_posting(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    fake.add_response("/api/chat.postMessage", json={"ok": False, "error": "not_in_channel"})
    top = Address(channel="slack", conversation="C0INC", user="")
    await slack.send(top, Reply(text="P1 incident", delivery_key="sb-16"))
    assert [a["channel"] for a in fake.sent("conversations.join")] == ["C0INC"]
    assert [p.channel for p in fake.posted] == ["C0INC"]


async def test_overview_is_published_to_the_home_tab(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    reply = Reply(
        text="Hi Alice.",
        overview=True,
        sections=(
            Section(
                title="Your open tickets",
                cards=(TicketCard(ref="INC-1", title="VPN", kind="incident", status="new"),),
                buttons=(Button(label="Resolve", action="resolve", value="INC-1"),),
            ),
        ),
    )
    delivery = await slack.send(thread("D0ALICE"), reply)
    [published] = fake.sent("views.publish")
    assert published["user_id"] == "U0ALICE"
    view: dict[str, Any] = published["view"]
    assert view["type"] == "home"
    assert "INC-1" in str(view["blocks"])
    assert delivery.external_id
    assert fake.posted == []


async def test_profile_asks_users_info_once(fake: FakeSlackApi, slack: SlackChannel) -> None:
    from channels.conversation import Identity

    me = Identity(platform="slack", external_id="U0ALICE")
    first = await slack.profile(me)
    second = await slack.profile(me)
    assert first.email == "alice@example.com"
    assert first.display_name == "Alice Example"
    assert second == first
    assert len(fake.calls_to("/api/users.info")) == 1
    stranger = await slack.profile(Identity(platform="slack", external_id="U0NOBODY"))
    assert stranger.email is None


# -- ephemeral replies ----------------------------------------------------------------------


def clicked_in(channel: str = "C0APPR", user: str = "U0BOB", thread: str | None = None) -> Address:
    return Address(
        channel="slack", workspace="T111", conversation=channel, thread=thread, user=user
    )


async def test_ephemeral_reply_is_shown_to_the_clicker_alone_in_place(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    reply = Reply(
        text="CHG-3 was already approved by <@U0CAROL>.", ephemeral=True, delivery_key="sb-20"
    )
    delivery = await slack.send(clicked_in(), reply)
    [sent] = fake.sent("chat.postEphemeral")
    assert (sent["channel"], sent["user"]) == ("C0APPR", "U0BOB")
    assert "thread_ts" not in sent
    assert sent["text"] == "CHG-3 was already approved by &lt;@U0CAROL&gt;."
    [shown] = fake.ephemeral
    assert shown.shown_to == "U0BOB"
    # Not a message a later card update could edit.
    assert delivery.external_id is None
    assert shown.ts in delivery.detail
    assert fake.posted == []
    assert fake.calls_to("/api/chat.postMessage") == []


async def test_ephemeral_reply_in_a_thread_stays_in_the_thread_and_is_never_an_edit(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    reply = Reply(text="Only you see this", card=CARD, ephemeral=True, edit_id="C0APPR:171.5")
    await slack.send(clicked_in(thread="1700.1"), reply)
    assert fake.calls_to("/api/chat.update") == []
    [sent] = fake.sent("chat.postEphemeral")
    assert sent["thread_ts"] == "1700.1"
    assert fake.ephemeral[0].thread_ts == "1700.1"


async def test_ephemeral_to_someone_outside_the_channel_goes_to_their_dm(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    fake.members["C0APPR"] = {"U0CAROL"}
    await slack.send(clicked_in(), Reply(text="Already decided", ephemeral=True))
    assert len(fake.calls_to("/api/chat.postEphemeral")) == 1
    assert fake.ephemeral == []
    assert [(p.channel, p.text) for p in fake.posted] == [("D0BOB", "Already decided")]


async def test_ephemeral_in_a_dm_is_an_ordinary_message_there(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    await slack.send(clicked_in("D0BOB"), Reply(text="Just for you", ephemeral=True))
    assert fake.calls_to("/api/chat.postEphemeral") == []
    assert [p.channel for p in fake.posted] == ["D0BOB"]


async def test_ephemeral_without_a_person_is_refused_for_good(slack: SlackChannel) -> None:
    nobody = Address(channel="slack", conversation="C0APPR", user="")
    with pytest.raises(DeliveryError) as caught:
        await slack.send(nobody, Reply(text="to whom?", ephemeral=True))
    assert caught.value.permanent


async def test_rate_limited_ephemeral_reports_its_wait(
    fake: FakeSlackApi, slack: SlackChannel
) -> None:
    fake.add_response(
        "/api/chat.postEphemeral",
        status=RATE_LIMITED["status"],
        json=RATE_LIMITED["body"],
        headers={"Retry-After": "3"},
    )
    with pytest.raises(DeliveryError) as caught:
        await slack.send(clicked_in(), Reply(text="later", ephemeral=True))
    assert caught.value.retry_after == 3.0
    assert not caught.value.ambiguous
    assert fake.ephemeral == []


async def test_an_ephemeral_timeout_is_ambiguous_and_not_repeated() -> None:
    with FakeSlackApi(USERS) as api:
        api.add_response("/api/chat.postEphemeral", json={"ok": True}, delay=1.5)
        slack = await started(api.api_url, timeout=0.5)
        try:
            with pytest.raises(DeliveryError) as caught:
                await slack.send(clicked_in(), Reply(text="maybe", ephemeral=True))
        finally:
            await slack.aclose()
        assert caught.value.ambiguous
        assert len(api.calls_to("/api/chat.postEphemeral")) == 1
        assert api.calls_to("/api/chat.postMessage") == []
