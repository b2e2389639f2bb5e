"""`POST /slack/events`: event callbacks reach the listener without bolt's dispatch; the rest through it."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from starlette.applications import Starlette
from starlette.testclient import TestClient

from channels.base import IngestOutcome, SignatureError
from channels.conversation import Event, Message
from channels.slack.adapter import SlackChannel

SECRET = "route-test-secret"
BOT_USER = "UBOT"


def _signed(raw: bytes, content_type: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), b"v0:" + stamp.encode() + b":" + raw, "sha256")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


def _dm(user: str, n: int) -> bytes:
    ts = f"1726133700.{n:06d}"
    event = {
        "type": "message",
        "channel_type": "im",
        "channel": "D111",
        "user": user,
        "text": "my printer is jammed",
        "ts": ts,
        "event_ts": ts,
    }
    body = {"type": "event_callback", "team_id": "T111", "event_id": f"Ev{n}", "event": event}
    return json.dumps(body).encode()


class Route:
    def __init__(self, client: TestClient, stored: list[Event], dispatched: list[Any]) -> None:
        self.client = client
        self.stored = stored
        self.dispatched = dispatched


@pytest.fixture
def route(monkeypatch: pytest.MonkeyPatch) -> Iterator[Route]:
    channel = SlackChannel(
        bot_token="xoxb-test", signing_secret=SECRET, api_url="http://127.0.0.1:9/api/"
    )
    # Who the bot is, as auth.test would have said; nothing here calls Slack.
    channel._auth = AuthorizeResult(
        enterprise_id=None, team_id="T111", bot_token="xoxb-test", bot_user_id=BOT_USER
    )
    stored: list[Event] = []
    dispatched: list[Any] = []

    async def ingest(event: Event) -> IngestOutcome:
        stored.append(event)
        return IngestOutcome.ACCEPTED

    original = AsyncApp.async_dispatch

    async def spy(self: AsyncApp, req: AsyncBoltRequest) -> BoltResponse:
        dispatched.append(req.body)
        return await original(self, req)

    monkeypatch.setattr(AsyncApp, "async_dispatch", spy)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await channel.start()
        yield
        await channel.aclose()

    app = Starlette(routes=list(channel.routes(ingest)), lifespan=lifespan)
    with TestClient(app) as client:
        yield Route(client, stored, dispatched)


def test_an_event_is_stored_and_acknowledged_without_bolts_dispatch(route: Route) -> None:
    raw = _dm("U0ALICE", 1)
    res = route.client.post("/slack/events", content=raw, headers=_signed(raw, "application/json"))
    assert res.status_code == 200
    assert res.content == b""
    assert res.headers["content-type"].startswith("text/plain")
    assert [type(e) for e in route.stored] == [Message]
    assert route.stored[0].event_id == "Ev1"
    assert route.dispatched == []


def test_the_bots_own_event_is_acknowledged_and_dropped(route: Route) -> None:
    raw = _dm(BOT_USER, 2)
    res = route.client.post("/slack/events", content=raw, headers=_signed(raw, "application/json"))
    assert res.status_code == 200
    assert route.stored == []
    assert route.dispatched == []


def test_a_forged_event_is_refused_before_anything_is_stored(route: Route) -> None:
    raw = _dm("U0ALICE", 3)
    headers = _signed(raw, "application/json") | {"X-Slack-Signature": "v0=" + "0" * 64}
    # The app answers it with 401 (tests/security); the route raises before reading the body.
    with pytest.raises(SignatureError):
        route.client.post("/slack/events", content=raw, headers=headers)
    assert route.stored == []


def test_a_slash_command_still_goes_through_bolt(route: Route) -> None:
    raw = urlencode({"command": "/other", "text": "", "user_id": "U0ALICE", "team_id": "T111"})
    body = raw.encode()
    res = route.client.post(
        "/slack/events",
        content=body,
        headers=_signed(body, "application/x-www-form-urlencoded"),
    )
    assert res.status_code == 200
    assert "I only know" in res.text
    assert [b.get("command") for b in route.dispatched] == ["/other"]
