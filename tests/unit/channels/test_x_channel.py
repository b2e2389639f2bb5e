"""The X channel's pure parts: signatures, parsing real payloads, rendering, the poll schedule."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from yarl import URL

from channels.base import PayloadError, SignatureError
from channels.conversation import Button, Reply, TicketCard
from channels.x.parse import parse_activity, parse_dm_events, parse_mentions, tweet_id
from channels.x.polling import poll_delay
from channels.x.render import PUBLIC_TEXT, TWEET_LIMIT, clip_tweet, render, tweet_length
from channels.x.send import base_url_middleware
from channels.x.verify import crc_response, verify
from tests.fakes.x_api import activity_dm, activity_tweets, sign, v1_tweet
from tests.payloads import load, raw

VECTORS = load("twitter", "crc_and_signature_test_vectors.json")
US = "2244994945"
HEADER = "x-twitter-webhooks-signature"


# -- known answers ----------------------------------------------------------------------------


def test_crc_known_answer() -> None:
    case = VECTORS["crc_example"]
    assert crc_response(case["consumer_secret"], case["crc_token"]) == case["expected_response"]


@pytest.mark.parametrize(
    "case", VECTORS["signature_fixtures_from_xdevplatform_autohook_test_signature_js"]["cases"]
)
def test_signature_known_answers(case: dict[str, str]) -> None:
    secret = VECTORS["signature_fixtures_from_xdevplatform_autohook_test_signature_js"][
        "consumer_secret"
    ]
    verify(case["body"].encode(), {HEADER: case[HEADER]}, secret)
    assert sign(case["body"].encode(), secret) == case[HEADER]


def _forgeries() -> list[tuple[str, bytes, dict[str, str], str]]:
    """More than 200 ways to get the signature wrong, each with the reason it is wrong."""
    secret = VECTORS["signature_fixtures_from_xdevplatform_autohook_test_signature_js"][
        "consumer_secret"
    ]
    case = VECTORS["signature_fixtures_from_xdevplatform_autohook_test_signature_js"]["cases"][1]
    body, good = case["body"].encode(), case[HEADER]
    digest = base64.b64decode(good.removeprefix("sha256="))
    out: list[tuple[str, bytes, dict[str, str], str]] = []
    for bit in range(len(digest) * 8):
        flipped = bytearray(digest)
        flipped[bit // 8] ^= 1 << (bit % 8)
        out.append(
            (
                f"sig bit {bit}",
                body,
                {HEADER: "sha256=" + base64.b64encode(flipped).decode()},
                secret,
            )
        )
    for i in range(0, len(body) * 8, 7):
        changed = bytearray(body)
        changed[i // 8] ^= 1 << (i % 8)
        out.append((f"body bit {i}", bytes(changed), {HEADER: good}, secret))
    reserialised = json.dumps(json.loads(body), indent=1).encode()
    out += [
        ("missing header", body, {}, secret),
        ("empty header", body, {HEADER: ""}, secret),
        ("no prefix", body, {HEADER: good.removeprefix("sha256=")}, secret),
        ("hex instead of base64", body, {HEADER: "sha256=" + digest.hex()}, secret),
        ("sha1 prefix", body, {HEADER: good.replace("sha256=", "sha1=")}, secret),
        ("two signatures", body, {HEADER: f"{good},{good}"}, secret),
        ("wrong secret", body, {HEADER: good}, secret + "x"),
        ("no secret configured", body, {HEADER: good}, ""),
        ("re-serialised body", reserialised, {HEADER: good}, secret),
        ("trailing newline", body + b"\n", {HEADER: good}, secret),
        ("other header name", body, {"x-twitter-signature": good}, secret),
    ]
    return out


def test_forged_signatures_are_all_refused() -> None:
    forgeries = _forgeries()
    assert len(forgeries) >= 200
    accepted = []
    for reason, body, headers, secret in forgeries:
        try:
            verify(body, headers, secret)
        except SignatureError:
            continue
        accepted.append(reason)
    assert accepted == []


def test_no_secret_means_no_crc_either() -> None:
    with pytest.raises(SignatureError):
        crc_response("", "token")


# -- parsing Account Activity --------------------------------------------------------------


def test_documented_direct_message_event() -> None:
    payload = load("twitter", "docs_aaa_direct_message_events.json")
    [msg] = parse_activity(payload)
    assert msg.event_id == "dm:954491830116155396"
    assert msg.text == "Hello World!"
    assert msg.address.conversation == "dm:3001969357"
    assert msg.address.user == "3001969357"
    assert msg.address.thread is None
    assert msg.sender.platform == "x"
    assert msg.sender.external_id == "3001969357"
    assert msg.sender.display_name == "@furiouscamper"
    assert tweet_id(msg) is None


def test_direct_message_for_another_account_is_not_ours() -> None:
    payload = load("twitter", "docs_aaa_direct_message_events.json")
    assert parse_activity(payload, account_id="4337869213") != []
    assert parse_activity(payload, account_id="999") == []


def test_our_own_direct_message_is_ignored() -> None:
    # tweepy's recorded event: sent by the account to itself.
    event = load("twitter", "tweepy_v1_1_dm_event_message_create.json")["event"]
    sender = event["message_create"]["sender_id"]
    assert parse_activity({"for_user_id": sender, "direct_message_events": [event]}) == []


@pytest.mark.parametrize(
    "name",
    [
        "docs_aaa_direct_message_indicate_typing_events.json",
        "docs_aaa_direct_message_mark_read_events.json",
        "docs_aaa_tweet_delete_events.json",
        "docs_aaa_user_event.json",
    ],
)
def test_other_activity_is_ignored(name: str) -> None:
    assert parse_activity(load("twitter", name)) == []


def _tweet(text: str, **kw: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "tweet_id": "1924465506158878979",
        "author_id": "3001969357",
        "screen_name": "furiouscamper",
        "mentions": [(US, "TwitterDev")],
    }
    return v1_tweet(text, **{**defaults, **kw})


def test_mention_in_tweet_create_events() -> None:
    body = activity_tweets(_tweet("@TwitterDev the VPN is down &amp; I can't work"), for_user_id=US)
    [msg] = parse_activity(json.loads(body))
    assert msg.event_id == "tweet:1924465506158878979"
    assert tweet_id(msg) == "1924465506158878979"
    assert msg.text == "the VPN is down & I can't work"
    assert msg.address.conversation == "dm:3001969357"
    assert msg.sender.display_name == "@furiouscamper"
    assert msg.received_at.year == 2025


def test_long_tweet_uses_the_full_text() -> None:
    text = "@TwitterDev " + "the VPN drops every few minutes. " * 6
    [msg] = parse_activity(json.loads(activity_tweets(_tweet(text), for_user_id=US)))
    assert msg.text == text.removeprefix("@TwitterDev ").strip()


@pytest.mark.parametrize(
    ("tweet", "blocked"),
    [
        (_tweet("@TwitterDev our own post", author_id=US, screen_name="TwitterDev"), False),
        (_tweet("RT @TwitterDev the VPN is down", retweet=True), False),
        (_tweet("talking about something else", mentions=[]), False),
        (_tweet("@TwitterDev from someone we blocked"), True),
    ],
    ids=["own tweet", "retweet", "no mention", "blocked"],
)
def test_tweets_we_do_not_answer(tweet: dict[str, Any], blocked: bool) -> None:
    body = activity_tweets(tweet, for_user_id=US, blocked=blocked)
    assert parse_activity(json.loads(body)) == []


def test_a_reply_to_us_counts_as_a_mention() -> None:
    tweet = _tweet("still broken", mentions=[])
    tweet["in_reply_to_user_id_str"] = US
    [msg] = parse_activity(json.loads(activity_tweets(tweet, for_user_id=US)))
    assert msg.text == "still broken"


@pytest.mark.parametrize("body", [[], "x", 3, None])
def test_activity_that_is_not_an_object_is_malformed(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse_activity(body)


def test_documented_envelopes_with_placeholders_are_not_json() -> None:
    # The docs elide the tweet; the fake fills it in rather than hand-writing an envelope.
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(raw("twitter", "docs_aaa_tweet_create_events_envelope_mentions.txt"))


def test_webhook_dm_built_for_tests_keeps_the_documented_shape() -> None:
    body = json.loads(
        activity_dm("hi", sender_id="42", screen_name="someone", for_user_id=US, event_id="7")
    )
    documented = load("twitter", "docs_aaa_direct_message_events.json")
    assert set(body) == set(documented)
    [msg] = parse_activity(body)
    assert (msg.event_id, msg.text, msg.sender.display_name) == ("dm:7", "hi", "@someone")


# -- parsing API v2 pages ------------------------------------------------------------------


def test_documented_mentions_page() -> None:
    page = load("twitter", "docs_v2_user_mentions_response.json")
    [msg] = parse_mentions(page, account_id=US)
    assert msg.event_id == "tweet:1301573587187331074"
    assert msg.text == "Hey @XDevelopers, love the new API!"
    assert msg.sender.external_id == "1234567890"
    assert msg.sender.display_name == "@developer"
    assert msg.address.conversation == "dm:1234567890"
    assert msg.received_at.isoformat() == "2024-01-15T10:30:00+00:00"


def test_mentions_by_ourselves_and_retweets_are_left_out() -> None:
    page = load("twitter", "docs_v2_user_mentions_response.json")
    assert parse_mentions(page, account_id="1234567890") == []
    page["data"][0]["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
    assert parse_mentions(page, account_id=US) == []
    page["data"][0]["referenced_tweets"] = [{"type": "replied_to", "id": "1"}]
    assert len(parse_mentions(page, account_id=US)) == 1


def test_documented_reply_payloads_parse_as_mentions() -> None:
    page = load("twitter", "docs_v2_tweet_reply_with_includes_2.json")
    [msg] = parse_mentions(page, account_id="1615654896")
    assert msg.sender.display_name == "@TwitterDev"
    assert msg.text.startswith("See how @PennMedCDH")


def test_dm_events_page() -> None:
    create = load("twitter", "docs_v2_dm_event_message_create.json")
    join = load("twitter", "docs_v2_dm_event_participants_join.json")
    one_to_one = dict(create, id="1582838499983564807", dm_conversation_id=f"944480690-{US}")
    ours = dict(one_to_one, id="1582838499983564808", sender_id=US)
    page = {
        "data": [ours, one_to_one, create, join],
        "includes": {"users": [{"id": "944480690", "username": "somebody", "name": "S"}]},
        "meta": {"result_count": 4},
    }
    [msg] = parse_dm_events(page, account_id=US)
    assert msg.event_id == "dm:1582838499983564807"
    assert msg.text == "Hi everyone."
    assert msg.sender.display_name == "@somebody"
    assert msg.address.conversation == "dm:944480690"


def test_recorded_dm_events_without_senders_are_skipped() -> None:
    page = load("twitter", "tweepy_v2_dm_conversation_events_response.json")
    assert parse_dm_events(page, account_id=US) == []


# -- rendering ----------------------------------------------------------------------------------


def _ticket_reply() -> Reply:
    return Reply(
        text="I've logged INC-12 for VPN at priority P1. The service desk will pick it up.",
        ticket_ref="INC-12",
        card=TicketCard(
            ref="INC-12",
            title="VPN down for the whole office",
            kind="incident",
            status="new",
            priority="P1",
            service="VPN",
            requester="Jordan Brinks",
            assignee="Bob Agent",
        ),
    )


def test_a_ticket_reply_gets_a_public_line_with_only_the_reference() -> None:
    rendered = render(_ticket_reply())
    assert rendered.public == PUBLIC_TEXT.format(ref="INC-12")
    assert tweet_length(rendered.public) <= TWEET_LIMIT
    for personal in ("Jordan", "Bob", "VPN", "office", "P1"):
        assert personal not in rendered.public
    assert rendered.direct_always
    assert "INC-12 · VPN down for the whole office" in rendered.direct
    assert "Priority: P1" in rendered.direct


def test_a_reply_without_a_ticket_goes_by_dm_only() -> None:
    rendered = render(Reply(text="Sorry to hear that. Which system is affected?"))
    assert rendered.public is None
    assert rendered.direct == "Sorry to hear that. Which system is affected?"


def test_a_made_up_reference_never_reaches_the_public() -> None:
    rendered = render(Reply(text="details", ticket_ref="Jordan Brinks, +14155550101"))
    assert rendered.public is None


def test_a_reply_meant_for_the_public_is_posted_as_written() -> None:
    rendered = render(Reply(text="We're aware of the VPN outage and working on it.", public=True))
    assert rendered.public == "We're aware of the VPN outage and working on it."
    assert not rendered.direct_always


def test_buttons_become_numbered_choices_in_the_dm() -> None:
    reply = Reply(
        text="Did you want to:",
        buttons=(Button(label="Report a problem", action="x"), Button(label="Check", action="y")),
    )
    assert render(reply).direct.endswith("Reply 1 to report a problem\nReply 2 to check")


def test_long_texts_are_clipped_to_the_platform_limits() -> None:
    rendered = render(Reply(text="é" * 20_000, public=True))
    assert rendered.public is not None
    assert tweet_length(rendered.public) <= TWEET_LIMIT
    assert rendered.public.endswith("…")
    assert len(rendered.direct) == 10_000
    assert tweet_length("日本語") == 6
    assert clip_tweet("日" * 200) == "日" * 139 + "…"


# -- base URL and schedule -----------------------------------------------------------------


class _Req:
    def __init__(self, url: str) -> None:
        self.url = URL(url, encoded=True)
        self.headers: dict[str, str] = {"Host": self.url.host_port_subcomponent or ""}


async def test_middleware_rewrites_only_the_origin() -> None:
    mw = base_url_middleware("http://127.0.0.1:9004")
    seen: list[_Req] = []

    async def handler(req: Any) -> Any:
        seen.append(req)
        return "response"

    url = "https://api.twitter.com/2/users/1/mentions?since_id=5&oauth_timestamp=1%3A2"
    assert await mw(_Req(url), handler) == "response"  # type: ignore[arg-type]
    assert (
        str(seen[0].url)
        == "http://127.0.0.1:9004/2/users/1/mentions?since_id=5&oauth_timestamp=1%3A2"
    )
    assert seen[0].headers["Host"] == "127.0.0.1:9004"
    await mw(_Req("https://upload.twitter.com/1.1/media"), handler)  # type: ignore[arg-type]
    assert str(seen[1].url) == "https://upload.twitter.com/1.1/media"


def test_poll_delay_waits_for_the_reset_and_is_capped() -> None:
    assert poll_delay(interval=60, failures=0) == 60
    assert poll_delay(interval=5, failures=1, reset_time=1000, rate_limited=True, now=900) == 101
    assert poll_delay(interval=5, failures=1, reset_time=1000, rate_limited=True, now=999) == 5
    assert poll_delay(interval=5, failures=1, reset_time=99_999, rate_limited=True, now=0) == 900
    assert poll_delay(interval=5, failures=3, rate_limited=True) == 20
    assert [poll_delay(interval=10, failures=n, cap=100) for n in (1, 2, 3, 4, 5)] == [
        10,
        20,
        40,
        80,
        100,
    ]
