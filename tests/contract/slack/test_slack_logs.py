"""At DEBUG, nothing the Slack channel or its SDKs log holds a token, the signing secret or
what a person wrote: a real send to the local Slack API and a real signed request through
the route, with every log record captured."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette

from channels.base import IngestOutcome
from channels.conversation import Address, Event, Reply
from channels.slack import SlackChannel
from tests.fakes.slack_api import FakeSlackApi
from tests.payloads import load

TOKEN = "xoxb-1111-2222-logcheckTOKEN"
SECRET = "logcheck-signing-secret-0123456789"
SAID = "my password is hunter2 and the VPN is down"
ANSWER = "Logged INC-77 about the quarterly figures"


@pytest.fixture
def fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


def leaks(caplog: pytest.LogCaptureFixture) -> list[str]:
    found = []
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + repr(getattr(record, "__dict__", {}))
        found += [s for s in (TOKEN, SECRET, SAID, ANSWER, "hunter2") if s in text]
    return found


async def test_sending_and_receiving_log_no_secret_or_text_at_debug(
    fake: FakeSlackApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    slack = SlackChannel(bot_token=TOKEN, signing_secret=SECRET, api_url=fake.api_url)
    stored: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        stored.append(event)
        return IngestOutcome.ACCEPTED

    app = Starlette(routes=list(slack.routes(ingest)))
    await slack.start()
    try:
        where = Address(channel="slack", conversation="D0ALICE", thread="1700.1", user="U0ALICE")
        await slack.send(where, Reply(text=ANSWER, delivery_key="sb-log-1"))

        body = load("slack", "events_api_message_im.json")
        body["event"]["text"] = SAID
        raw = json.dumps(body).encode()
        ts = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "x-slack-request-timestamp": ts,
            "x-slack-signature": SignatureVerifier(SECRET).generate_signature(
                timestamp=ts, body=raw
            ),
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://slack.test") as client:
            res = await client.post("/slack/events", content=raw, headers=headers)
    finally:
        await slack.aclose()

    # Both ways really happened, and the SDKs did log (at INFO and above, or ours).
    assert res.status_code == 200
    assert [e.event_id for e in stored] == [body["event_id"]]
    assert fake.last("/api/chat.postMessage").headers["authorization"] == f"Bearer {TOKEN}"
    assert fake.posted[0].text == ANSWER
    assert caplog.records
    assert leaks(caplog) == []
    assert not [
        r for r in caplog.records if r.name.startswith("slack") and r.levelno < logging.INFO
    ]
