"""Socket Mode: a local WebSocket server plays Slack; the real slack-sdk client connects.

The recorded envelopes arrive over the socket; each is acknowledged only after `ingest`
returned, and a redelivery carries the same `event_id`, which is what the inbox dedupes on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from channels.base import IngestOutcome
from channels.conversation import Event, Message
from channels.slack import SlackChannel
from tests.fakes.slack_api import FakeSlackApi
from tests.payloads import load


class SocketServer:
    """Sends `hello` and the given envelopes to whoever connects; records the acks."""

    def __init__(self, envelopes: list[dict[str, Any]]) -> None:
        self.envelopes = envelopes
        self.acks: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps(load("slack", "socket_mode_hello.json")))
        for envelope in self.envelopes:
            await ws.send_str(json.dumps(envelope))
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                self.acks.append(json.loads(msg.data))
        return ws

    async def __aenter__(self) -> SocketServer:
        app = web.Application()
        app.router.add_get("/link", self._link)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def mention_envelope(envelope_id: str, retry: int) -> dict[str, Any]:
    envelope = load("slack", "socket_mode_envelope_events_api_app_mention.json")
    envelope["envelope_id"] = envelope_id
    envelope["retry_attempt"] = retry
    envelope["retry_reason"] = "timeout" if retry else ""
    payload = envelope["payload"]
    payload["authorizations"][0]["user_id"] = "U111"  # the bot; the author is U222
    payload["event"]["text"] = "<@U111> the VPN is down"
    return envelope


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


async def until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_envelopes_are_ingested_then_acknowledged(fake: FakeSlackApi) -> None:
    first = mention_envelope("env-1", 0)
    retry = mention_envelope("env-2", 1)
    command = load("slack", "socket_mode_envelope_slash_commands.json")
    command["payload"]["command"] = "/ticket"
    received: list[Event] = []
    failed_once: list[str] = []

    async def ingest(event: Event) -> IngestOutcome:
        if not failed_once:
            failed_once.append(event.event_id)
            raise ConnectionError("the inbox is unavailable")
        received.append(event)
        return IngestOutcome.ACCEPTED

    async with SocketServer([first, retry, command]) as server:
        fake.set_default(
            "/api/apps.connections.open",
            json={"ok": True, "url": f"ws://127.0.0.1:{server.port}/link"},
        )
        slack = SlackChannel(bot_token="xoxb-test", app_token="xapp-1-test", api_url=fake.api_url)
        await slack.start()
        stop = asyncio.Event()
        task = asyncio.create_task(slack.run(ingest, stop))
        try:
            await until(lambda: len(server.acks) >= 2)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await slack.aclose()

    # The first delivery could not be stored, so it was not acknowledged; Slack's retry was.
    assert {a["envelope_id"] for a in server.acks} == {"env-2", command["envelope_id"]}
    [msg] = received
    assert isinstance(msg, Message)
    assert msg.event_id == "Ev111" == failed_once[0]
    assert msg.text == "the VPN is down"
    [opened] = fake.sent("views.open")
    assert opened["trigger_id"] == command["payload"]["trigger_id"]
    assert fake.last("/api/apps.connections.open").headers["authorization"] == "Bearer xapp-1-test"


async def test_without_an_app_token_run_returns_at_once(fake: FakeSlackApi) -> None:
    slack = SlackChannel(bot_token="xoxb-test", signing_secret="s" * 32, api_url=fake.api_url)
    assert not slack.polls
    assert SlackChannel(bot_token="xoxb-test", app_token="xapp-1-test").polls
    await slack.start()
    try:
        await asyncio.wait_for(slack.run(_never, asyncio.Event()), timeout=1)
    finally:
        await slack.aclose()
    assert fake.calls == []


async def _never(event: Event) -> IngestOutcome:
    raise AssertionError("nothing should be ingested")


async def test_malformed_and_unhandled_envelopes_are_acknowledged_and_not_ingested(
    fake: FakeSlackApi,
) -> None:
    good = mention_envelope("env-ok", 0)
    malformed = mention_envelope("env-bad", 0)
    malformed["payload"]["event"] = ["not", "an", "event"]
    no_action_id = load("slack", "socket_mode_envelope_interactive_shortcut.json")
    no_action_id["envelope_id"] = "env-click"
    no_action_id["payload"] = {"type": "block_actions", "actions": [{"value": "x"}]}
    unhandled = load("slack", "socket_mode_envelope_interactive_shortcut.json")
    unhandled["envelope_id"] = "env-suggest"
    unhandled["payload"] = {"type": "block_suggestion", "action_id": "x", "value": "v"}
    received: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        received.append(event)
        return IngestOutcome.ACCEPTED

    async with SocketServer([malformed, no_action_id, unhandled, good]) as server:
        fake.set_default(
            "/api/apps.connections.open",
            json={"ok": True, "url": f"ws://127.0.0.1:{server.port}/link"},
        )
        slack = SlackChannel(bot_token="xoxb-test", app_token="xapp-1-test", api_url=fake.api_url)
        await slack.start()
        stop = asyncio.Event()
        task = asyncio.create_task(slack.run(ingest, stop))
        try:
            await until(lambda: len(server.acks) >= 4)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
            await slack.aclose()

    assert {a["envelope_id"] for a in server.acks} == {
        "env-ok",
        "env-bad",
        "env-click",
        "env-suggest",
    }
    assert [e.event_id for e in received] == ["Ev111"]


async def test_stop_ends_run_while_slack_refuses_the_connection(fake: FakeSlackApi) -> None:
    fake.set_default("/api/apps.connections.open", json={"ok": False, "error": "invalid_auth"})
    slack = SlackChannel(bot_token="xoxb-test", app_token="xapp-1-test", api_url=fake.api_url)
    await slack.start()
    stop = asyncio.Event()
    task = asyncio.create_task(slack.run(_never, stop))
    try:
        await until(lambda: fake.calls_to("/api/apps.connections.open"))
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    finally:
        await slack.aclose()
    assert task.done()
    assert task.exception() is None
