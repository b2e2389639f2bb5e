"""The end-to-end harness: fake platform APIs, signed Slack requests, the app's database.

Each fake is a real server on `127.0.0.1:0` that the real SDK reaches through its
`*_API_URL`; a test asks for the fakes it needs by name. Requests to `/slack/events` are
signed as Slack signs them. `run` queries the database of an app under `TestClient`, and
`settle` waits until its pipeline is idle. The waits poll for a positive signal (never a
fixed sleep) and fail with what they were waiting for.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import func, select

from store.enums import OutboxStatus
from store.models import InboxEvent, OutboxMessage
from tests.fakes.identity_service import FakeIdentityService
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi
from tests.fakes.x_api import FakeXApi

T = TypeVar("T")

SECRET = "e2e-signing-secret-0123456789abcdef"


@pytest.fixture
def slack_fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


@pytest.fixture
def twilio_fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def x_fake() -> Iterator[FakeXApi]:
    with FakeXApi() as api:
        yield api


@pytest.fixture
def identity_service() -> Iterator[FakeIdentityService]:
    with FakeIdentityService() as service:
        yield service


def eventually(found: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll `found` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := found():
            return got
        time.sleep(0.02)
    raise AssertionError(f"never saw {what}")


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait for a positive signal (a sync or async predicate)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def signed_headers(
    body: bytes, *, at: float | None = None, secret: str = SECRET, content_type: str
) -> dict[str, str]:
    ts = str(int(time.time() if at is None else at))
    sig = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body.decode())
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": sig,
        "content-type": content_type,
    }


def post_json(
    client: TestClient, body: dict[str, Any], *, retry: int | None = None, **sign: Any
) -> httpx.Response:
    data = json.dumps(body).encode()
    headers = signed_headers(data, content_type="application/json", **sign)
    if retry is not None:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    return client.post("/slack/events", content=data, headers=headers)


def post_form(client: TestClient, fields: dict[str, str], **sign: Any) -> httpx.Response:
    data = urlencode(fields).encode()
    headers = signed_headers(data, content_type="application/x-www-form-urlencoded", **sign)
    return client.post("/slack/events", content=data, headers=headers)


def post_payload(client: TestClient, payload: dict[str, Any]) -> httpx.Response:
    return post_form(client, {"payload": json.dumps(payload)})


def run(client: TestClient, query: Callable[[Any], Any]) -> Any:
    """Run `await query(uow)` inside the app's own event loop and database."""

    async def go() -> Any:
        async with client.app.state.container.uow() as uow:  # type: ignore[attr-defined]
            return await query(uow)

    return client.portal.call(go)  # type: ignore[union-attr]


def settle(client: TestClient, timeout: float = 20.0) -> None:
    """Wait until every inbox event is handled and every reply has left the outbox."""

    async def busy(uow: Any) -> int:
        inbox = await uow.session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.status == "pending")
        )
        outbox = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
        )
        return int(inbox or 0) + int(outbox or 0)

    deadline = time.monotonic() + timeout
    while run(client, busy) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run(client, busy) == 0, "the pipeline did not settle"
