"""The dispatcher: one send per reply, retries that wait, secrets not kept after sending."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.outbox import Dispatcher
from channels.base import Delivery, DeliveryError
from channels.conversation import Address, Reply
from store.db import SessionFactory, create_engine, session_factory
from store.enums import OutboxStatus
from store.migrate import upgrade_engine
from store.models import OutboxMessage
from store.state import LocalState
from store.types import utcnow
from store.uow import UnitOfWork

ADDRESS = Address(channel="console", conversation="c1", user="u1")


class Recorder:
    name = "console"
    platforms = ("console",)

    def __init__(self, failures: list[DeliveryError] | None = None) -> None:
        self.sent: list[Reply] = []
        self.failures = list(failures or [])

    def routes(self, ingest):  # type: ignore[no-untyped-def]
        return []

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def send(self, address: Address, reply: Reply) -> Delivery:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(reply)
        return Delivery(external_id=f"m{len(self.sent)}")


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/d.db")
    await upgrade_engine(engine)
    yield session_factory(engine)
    await engine.dispose()


async def queue_reply(factory: SessionFactory, reply: Reply) -> int:
    async with UnitOfWork(factory) as uow:
        row = uow.outbox.add(
            platform="console",
            conversation_key=ADDRESS.key,
            address=ADDRESS.to_dict(),
            reply=reply.to_dict(),
        )
        await uow.flush()
        await uow.commit()
        return row.id


async def row(factory: SessionFactory, outbox_id: int) -> OutboxMessage:
    async with UnitOfWork(factory) as uow:
        found = await uow.session.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


async def make_due(factory: SessionFactory) -> None:
    """Skip the back-off: every pending reply is due now."""
    async with UnitOfWork(factory) as uow:
        await uow.session.execute(
            update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await uow.commit()


async def test_sent_once_and_secrets_forgotten(factory: SessionFactory) -> None:
    channel = Recorder()
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    secret = await queue_reply(factory, Reply(text="Your code is 123456", sensitive=True))
    plain = await queue_reply(factory, Reply(text="INC-1 is resolved"))
    assert await d.dispatch() == 2
    assert await d.dispatch() == 0
    assert [r.text for r in channel.sent] == ["Your code is 123456", "INC-1 is resolved"]
    stored = await row(factory, secret)
    assert stored.status is OutboxStatus.SENT
    assert "123456" not in str(stored.reply)
    assert (await row(factory, plain)).reply["text"] == "INC-1 is resolved"


async def test_retry_after_waits_then_delivers_once(factory: SessionFactory) -> None:
    channel = Recorder([DeliveryError("slow down", retry_after=0.5)])
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    first = await queue_reply(factory, Reply(text="one"))
    await d.dispatch()
    assert channel.sent == []
    assert await d.dispatch() == 0  # not due before the advertised wait
    time.sleep(0.6)
    assert await d.dispatch() == 1
    assert [r.text for r in channel.sent] == ["one"]
    assert (await row(factory, first)).attempts == 2


async def test_permanent_and_ambiguous_failures_are_not_resent(factory: SessionFactory) -> None:
    channel = Recorder(
        [DeliveryError("blocked", permanent=True), DeliveryError("timeout", ambiguous=True)]
    )
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    a = await queue_reply(factory, Reply(text="a"))
    await d.dispatch()
    b = await queue_reply(factory, Reply(text="b"))
    await d.dispatch()
    assert await d.dispatch() == 0
    assert channel.sent == []
    assert (await row(factory, a)).status is OutboxStatus.DEAD
    assert (await row(factory, b)).status is OutboxStatus.UNKNOWN


async def test_later_replies_wait_for_an_earlier_failure(factory: SessionFactory) -> None:
    channel = Recorder([DeliveryError("server error")])
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    await queue_reply(factory, Reply(text="first"))
    second = await queue_reply(factory, Reply(text="second"))
    await d.dispatch()
    assert channel.sent == []
    async with UnitOfWork(factory) as uow:
        counts = await uow.outbox.counts()
    assert counts == {OutboxStatus.PENDING.value: 2}
    # Waiting behind the first does not use up an attempt of the second.
    assert (await row(factory, second)).attempts == 0
    await make_due(factory)
    await d.dispatch()
    assert [r.text for r in channel.sent] == ["first", "second"]


async def test_gives_up_after_the_last_attempt(factory: SessionFactory) -> None:
    channel = Recorder([DeliveryError("server error")] * 3)
    d = Dispatcher(
        factory=factory, channels={"console": channel}, state=LocalState(), max_attempts=3
    )
    one = await queue_reply(factory, Reply(text="x"))
    for attempt in range(1, 4):
        assert await d.dispatch() == 1
        assert (await row(factory, one)).attempts == attempt
        await make_due(factory)
    assert (await row(factory, one)).status is OutboxStatus.DEAD
    assert await d.dispatch() == 0
