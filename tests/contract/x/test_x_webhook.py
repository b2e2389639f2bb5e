"""`GET|POST /x/webhook` on its own: the challenge, signatures, real Account Activity bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from channels.base import PayloadError, SignatureError
from channels.conversation import Address, Reply
from channels.x.channel import XChannel
from channels.x.render import PUBLIC_TEXT
from tests.fakes.x_api import (
    ACCOUNT,
    FakeXApi,
    Inbox,
    MemoryCursors,
    activity_dm,
    activity_tweets,
    signed_headers,
    started,
    v1_tweet,
)
from tests.payloads import load

US = ACCOUNT["id"]
CUSTOMER = "3001969357"
VECTORS = load("twitter", "crc_and_signature_test_vectors.json")


def client_for(channel: XChannel, inbox: Inbox) -> httpx.AsyncClient:
    """The routes with the status mapping the application gives channel errors."""

    async def forged(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "invalid signature"}, status_code=401)

    async def malformed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    app = Starlette(
        routes=list(channel.routes(inbox)),
        exception_handlers={SignatureError: forged, PayloadError: malformed},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://bot.test")


@pytest.fixture
async def http(channel: XChannel, inbox: Inbox) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(channel, inbox) as c:
        yield c


def mention(tweet_id: str, text: str = "@TwitterDev the VPN is down for everyone") -> bytes:
    tweet = v1_tweet(
        text,
        tweet_id=tweet_id,
        author_id=CUSTOMER,
        screen_name="furiouscamper",
        mentions=[(US, ACCOUNT["username"])],
    )
    return activity_tweets(tweet, for_user_id=US)


async def test_crc_known_answer_while_the_store_is_down(fake: FakeXApi, inbox: Inbox) -> None:
    case = VECTORS["crc_example"]
    cursors = MemoryCursors()
    cursors.fail = inbox.fail = True
    ch = await started(fake, cursors, consumer_secret=case["consumer_secret"])
    try:
        async with client_for(ch, inbox) as http:
            res = await http.get("/x/webhook", params={"crc_token": case["crc_token"]})
    finally:
        await ch.aclose()
    assert res.status_code == 200
    assert res.json() == case["expected_response"]
    assert fake.calls == []


@pytest.mark.parametrize("params", [{}, {"crc_token": ""}, {"crc_token": "x" * 1001}])
async def test_crc_without_a_usable_token_is_a_bad_request(
    http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    res = await http.get("/x/webhook", params=params)
    assert res.status_code == 400


async def test_without_a_consumer_secret_nothing_is_accepted(fake: FakeXApi, inbox: Inbox) -> None:
    ch = XChannel(cursors=MemoryCursors(), bearer_token="user-token", api_url=fake.base_url)
    body = mention("1924465506158878979")
    async with client_for(ch, inbox) as http:
        crc = await http.get("/x/webhook", params={"crc_token": "abc"})
        unsigned = await http.post("/x/webhook", content=body)
        signed_with_empty = await http.post(
            "/x/webhook", content=body, headers=signed_headers(body, "")
        )
    assert (crc.status_code, unsigned.status_code, signed_with_empty.status_code) == (401, 401, 401)
    assert inbox.outcomes == []


async def test_signature_vectors_through_the_route(fake: FakeXApi, inbox: Inbox) -> None:
    fixtures = VECTORS["signature_fixtures_from_xdevplatform_autohook_test_signature_js"]
    ch = await started(fake, MemoryCursors(), consumer_secret=fixtures["consumer_secret"])
    form, as_json = fixtures["cases"]
    try:
        async with client_for(ch, inbox) as http:
            sig = "x-twitter-webhooks-signature"
            not_json = await http.post("/x/webhook", content=form["body"], headers={sig: form[sig]})
            empty = await http.post(
                "/x/webhook", content=as_json["body"], headers={sig: as_json[sig]}
            )
            crossed = await http.post(
                "/x/webhook", content=as_json["body"], headers={sig: form[sig]}
            )
    finally:
        await ch.aclose()
    assert not_json.status_code == 400  # signed correctly, but not an event
    assert (empty.status_code, empty.json()) == (200, {"accepted": 0, "duplicate": 0})
    assert crossed.status_code == 401
    assert inbox.outcomes == []


async def test_a_signed_mention_is_ingested_once_and_answered_in_public_once(
    http: httpx.AsyncClient, channel: XChannel, fake: FakeXApi, inbox: Inbox
) -> None:
    body = mention("1924465506158878979")
    first = await http.post("/x/webhook", content=body, headers=signed_headers(body))
    again = await http.post("/x/webhook", content=body, headers=signed_headers(body))
    assert first.json() == {"accepted": 1, "duplicate": 0}
    assert again.json() == {"accepted": 0, "duplicate": 1}
    [event] = inbox.events
    assert event.event_id == "tweet:1924465506158878979"
    assert event.text == "the VPN is down for everyone"

    to = Address(channel="x", conversation=f"dm:{CUSTOMER}", user=CUSTOMER)
    await channel.send(to, Reply(text="I've logged INC-3.", ticket_ref="INC-3"))
    await http.post("/x/webhook", content=body, headers=signed_headers(body))  # a late retry
    await channel.send(to, Reply(text="INC-3 is resolved.", ticket_ref="INC-3"))
    assert fake.tweets() == [
        {
            "text": PUBLIC_TEXT.format(ref="INC-3"),
            "reply": {"in_reply_to_tweet_id": "1924465506158878979"},
        }
    ]
    assert fake.dms(CUSTOMER) == ["I've logged INC-3.", "INC-3 is resolved."]


async def test_a_signed_dm_is_ingested_and_our_own_is_not(
    http: httpx.AsyncClient, channel: XChannel, inbox: Inbox
) -> None:
    theirs = activity_dm(
        "the VPN", sender_id=CUSTOMER, screen_name="furiouscamper", for_user_id=US, event_id="11"
    )
    ours = activity_dm(
        "Which system?", sender_id=US, screen_name="TwitterDev", for_user_id=US, event_id="12"
    )
    for body in (theirs, ours):
        res = await http.post("/x/webhook", content=body, headers=signed_headers(body))
        assert res.status_code == 200
    assert [(e.event_id, e.text) for e in inbox.events] == [("dm:11", "the VPN")]


async def test_events_for_another_subscribed_account_are_ignored(
    http: httpx.AsyncClient, channel: XChannel, inbox: Inbox
) -> None:
    await channel.account()
    body = activity_dm(
        "hello", sender_id=CUSTOMER, screen_name="furiouscamper", for_user_id="999", event_id="13"
    )
    res = await http.post("/x/webhook", content=body, headers=signed_headers(body))
    assert res.json() == {"accepted": 0, "duplicate": 0}
    assert inbox.outcomes == []


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_signed_garbage_is_a_bad_request(http: httpx.AsyncClient, body: bytes) -> None:
    res = await http.post("/x/webhook", content=body, headers=signed_headers(body))
    assert res.status_code == 400
