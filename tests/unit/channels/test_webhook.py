"""The webhook channel: signed POSTs, which answers are retried, and results fed back in."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.outbox import Dispatcher
from channels.base import DeliveryError, IngestOutcome
from channels.conversation import Action, Address, Event, Reply
from channels.webhook import WebhookChannel
from store.db import SessionFactory, create_engine, session_factory
from store.enums import OutboxStatus
from store.migrate import upgrade_engine
from store.models import OutboxMessage
from store.state import LocalState
from store.uow import UnitOfWork

SECRET = b"s3cret"
ADDRESS = Address(channel="webhook", conversation="http://idm.test/reset", user="REQ-4/1")
BODY = json.dumps({"request": "REQ-4", "task": "REQ-4/1"})


class Inbox:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> IngestOutcome:
        self.events.append(event)
        return IngestOutcome.ACCEPTED

    def results(self) -> list[tuple[str, str, str]]:
        out = []
        for e in self.events:
            assert isinstance(e, Action)
            out.append((e.params["task"], e.params["outcome"], e.params["detail"]))
        return out


def channel(
    handler: httpx.MockTransport, inbox: Inbox, secret: bytes | None = SECRET
) -> WebhookChannel:
    return WebhookChannel(secret, ingest=inbox, transport=handler)


async def test_the_post_is_signed_and_a_2xx_completes_the_task() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message": "link sent"})

    inbox = Inbox()
    ch = channel(httpx.MockTransport(answer), inbox)
    reply = Reply(text=BODY, ticket_ref="REQ-4", delivery_key="sb-7")
    await ch.send(ADDRESS, reply)
    [request] = seen
    expected = hmac.new(SECRET, BODY.encode(), hashlib.sha256).hexdigest()
    assert request.headers["X-Switchboard-Signature"] == f"sha256={expected}"
    assert request.headers["X-Switchboard-Delivery"] == "sb-7"
    assert request.content == BODY.encode()
    assert inbox.results() == [("REQ-4/1", "done", "HTTP 200: link sent")]
    [event] = inbox.events
    assert event.event_id == "sb-7:done"
    await ch.aclose()


@pytest.mark.parametrize("status", [408, 429, 500, 503])
async def test_busy_or_broken_services_are_retried_without_a_result(status: int) -> None:
    inbox = Inbox()
    ch = channel(httpx.MockTransport(lambda r: httpx.Response(status)), inbox)
    with pytest.raises(DeliveryError) as caught:
        await ch.send(ADDRESS, Reply(text=BODY, delivery_key="sb-1"))
    assert not caught.value.permanent
    assert not caught.value.ambiguous
    assert inbox.events == []


async def test_a_timeout_is_retried_and_a_refusal_fails_the_task_once() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    inbox = Inbox()
    with pytest.raises(DeliveryError, match="timed out"):
        await channel(httpx.MockTransport(slow), inbox).send(ADDRESS, Reply(text=BODY))
    assert inbox.events == []
    refuse = httpx.MockTransport(lambda r: httpx.Response(422, json={"detail": "no such user"}))
    await channel(refuse, inbox).send(ADDRESS, Reply(text=BODY, delivery_key="sb-2"))
    assert inbox.results() == [("REQ-4/1", "failed", "HTTP 422: no such user")]


async def test_without_a_secret_nothing_is_posted_and_the_task_fails() -> None:
    posted: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200)

    inbox = Inbox()
    ch = channel(httpx.MockTransport(record), inbox, None)
    with pytest.raises(DeliveryError) as caught:
        await ch.send(ADDRESS, Reply(text=BODY))
    assert caught.value.permanent
    assert posted == []
    assert inbox.results() == [("REQ-4/1", "failed", "WEBHOOK_SECRET is not set")]


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/w.db")
    await upgrade_engine(engine)
    yield session_factory(engine)
    await engine.dispose()


async def test_the_dispatcher_tells_the_channel_when_it_gives_up(factory: SessionFactory) -> None:
    inbox = Inbox()
    ch = channel(httpx.MockTransport(lambda r: httpx.Response(502)), inbox)
    d = Dispatcher(factory=factory, channels={"webhook": ch}, state=LocalState(), max_attempts=1)
    async with UnitOfWork(factory) as uow:
        row = uow.outbox.add(
            platform="webhook",
            conversation_key=ADDRESS.key,
            address=ADDRESS.to_dict(),
            reply=Reply(text=BODY, ticket_ref="REQ-4", sensitive=True).to_dict(),
        )
        await uow.flush()
        await uow.commit()
        outbox_id = row.id
    assert await d.dispatch() == 1
    async with UnitOfWork(factory) as uow:
        stored = await uow.session.get(OutboxMessage, outbox_id)
        assert stored is not None
        assert stored.status is OutboxStatus.DEAD
    assert inbox.results() == [("REQ-4/1", "failed", "gave up after retries: HTTP 502")]
