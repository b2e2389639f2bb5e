"""What the X channel does with partial credentials, and what its clients may log."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from structlog.testing import capture_logs

from channels.base import DeliveryError, PayloadError, SignatureError
from channels.conversation import Address, Reply
from channels.x.channel import XChannel
from tests.fakes.x_api import (
    ACCOUNT,
    KEYS,
    FakeXApi,
    Inbox,
    MemoryCursors,
    activity_tweets,
    dm_path,
    signed_headers,
    started,
    v1_tweet,
)
from tests.payloads import load

CUSTOMER = "3001969357"
VECTORS = load("twitter", "crc_and_signature_test_vectors.json")
BEARER = "test-oauth2-user-token-0123456789"
# oauthlib, requests-oauthlib and tweepy: the loggers that held the tokens at DEBUG.
CLIENT_LOGGERS = ("oauthlib", "oauthlib.oauth1.rfc5849", "requests_oauthlib", "tweepy")


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


def mention() -> bytes:
    tweet = v1_tweet(
        "@TwitterDev the VPN is down",
        tweet_id="1924465506158878979",
        author_id=CUSTOMER,
        screen_name="jb",
        mentions=[(ACCOUNT["id"], ACCOUNT["username"])],
    )
    return activity_tweets(tweet, for_user_id=ACCOUNT["id"])


async def test_the_consumer_secret_alone_answers_crc_and_refuses_events_with_503(
    fake: FakeXApi, inbox: Inbox
) -> None:
    case = VECTORS["crc_example"]
    with capture_logs() as logs:
        ch = XChannel(
            cursors=MemoryCursors(), consumer_secret=case["consumer_secret"], api_url=fake.base_url
        )
    await ch.start()
    try:
        async with client_for(ch, inbox) as http:
            crc = await http.get("/x/webhook", params={"crc_token": case["crc_token"]})
            body = mention()
            signed = await http.post(
                "/x/webhook", content=body, headers=signed_headers(body, case["consumer_secret"])
            )
            forged = await http.post("/x/webhook", content=body, headers=signed_headers(body))
        with pytest.raises(DeliveryError) as refused:
            await ch.send(
                Address(channel="x", conversation=f"dm:{CUSTOMER}", user=CUSTOMER), Reply(text="hi")
            )
    finally:
        await ch.aclose()
    assert crc.status_code == 200
    assert crc.json() == case["expected_response"]
    assert signed.status_code == 503
    assert signed.json()["missing"] == ["X_CONSUMER_KEY", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"]
    assert forged.status_code == 401
    assert not refused.value.permanent
    assert inbox.events == []
    assert fake.calls == []
    [said] = [e for e in logs if e["event"] == "x.webhook_only"]
    assert said["missing"] == ["X_CONSUMER_KEY", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"]
    assert case["consumer_secret"] not in repr(logs)


@pytest.mark.parametrize("mode", ["oauth1", "oauth2"])
async def test_no_token_or_secret_reaches_the_logs_at_debug(
    fake: FakeXApi, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in CLIENT_LOGGERS:
        # Forced open, so only the channel's own guard stands between a token and the log.
        caplog.set_level(logging.DEBUG, logger=name)
    keys = dict(KEYS) if mode == "oauth1" else {"bearer_token": BEARER}
    with capture_logs() as own:
        if mode == "oauth1":
            ch = await started(fake, MemoryCursors())
        else:
            ch = XChannel(cursors=MemoryCursors(), bearer_token=BEARER, api_url=fake.base_url)
            await ch.start()
        try:
            await ch.account()
            await ch.send(
                Address(channel="x", conversation=f"dm:{CUSTOMER}", user=CUSTOMER),
                Reply(text="Which system is affected?"),
            )
        finally:
            await ch.aclose()
    [call] = fake.calls_to(dm_path(CUSTOMER))
    shown = "\n".join(
        [r.getMessage() for r in caplog.records] + [repr(e) for e in own] + [caplog.text]
    )
    # The credentials were on the wire, so a leak had every chance to happen.
    assert (KEYS["access_token"] if mode == "oauth1" else BEARER) in call.headers["authorization"]
    for secret in keys.values():
        assert secret not in shown
