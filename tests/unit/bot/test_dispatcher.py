"""The dispatcher: one send per reply, retries that wait, secrets not kept after sending."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from bot.delivery import add_reply
from bot.outbox import Dispatcher
from channels.base import Delivery, DeliveryError
from channels.conversation import Address, Reply
from store.db import SessionFactory, create_engine, session_factory
from store.enums import OutboxStatus
from store.migrate import upgrade_engine
from store.models import OutboxMessage
from store.outbox import OutboxRepository
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


class Finder(Recorder):
    """A channel that can look up whether a reply with a delivery key arrived."""

    def __init__(self, arrived: set[str]) -> None:
        super().__init__()
        self.arrived = arrived
        self.lookups: list[str | None] = []

    async def find_delivery(self, address: Address, reply: Reply) -> Delivery | None:
        self.lookups.append(reply.delivery_key)
        if reply.delivery_key in self.arrived:
            return Delivery(external_id="found-1")
        return None


async def interrupted(factory: SessionFactory, reply: Reply) -> int:
    """A row whose sender called the platform and vanished before recording anything."""
    outbox_id = await queue_reply(factory, reply)
    async with UnitOfWork(factory) as uow:
        (claimed,) = await uow.outbox.claim(["console"])
        assert await uow.outbox.begin_send(outbox_id, claimed.attempts, lease_seconds=-1)
        await uow.commit()
    return outbox_id


async def test_an_interrupted_send_is_marked_unknown_not_resent(factory: SessionFactory) -> None:
    channel = Recorder()
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    one = await interrupted(factory, Reply(text="maybe sent"))
    later = await queue_reply(factory, Reply(text="after it"))
    assert await d.dispatch() == 1  # settling the interrupted one
    assert (await row(factory, one)).status is OutboxStatus.UNKNOWN
    await d.dispatch()
    assert [r.text for r in channel.sent] == ["after it"]
    assert (await row(factory, later)).status is OutboxStatus.SENT


async def test_an_interrupted_send_is_looked_up_by_its_delivery_key(
    factory: SessionFactory,
) -> None:
    arrived: set[str] = set()
    channel = Finder(arrived)
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    there = await interrupted(factory, Reply(text="it did arrive"))
    arrived.add(f"sb-{there}")
    await d.dispatch()
    stored = await row(factory, there)
    assert stored.status is OutboxStatus.SENT
    assert stored.external_id == "found-1"
    missing = await interrupted(factory, Reply(text="it did not"))
    await d.dispatch()
    await d.dispatch()
    assert channel.lookups == [f"sb-{there}", f"sb-{missing}"]
    assert [r.text for r in channel.sent] == ["it did not"]
    assert (await row(factory, missing)).status is OutboxStatus.SENT


async def test_an_ephemeral_reply_cannot_be_looked_up_so_it_is_unknown(
    factory: SessionFactory,
) -> None:
    channel = Finder(set())
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    one = await interrupted(factory, Reply(text="only you", ephemeral=True))
    await d.dispatch()
    assert (await row(factory, one)).status is OutboxStatus.UNKNOWN
    assert channel.lookups == []
    assert channel.sent == []


async def test_a_failed_recording_is_retried_and_never_resent(
    factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = Recorder()
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    one = await queue_reply(factory, Reply(text="once"))
    real = OutboxRepository.mark_sent
    failures = [OperationalError("UPDATE", {}, Exception("server closed the connection"))] * 2

    async def flaky(self: OutboxRepository, *args: object, **kw: object) -> bool:
        if failures:
            raise failures.pop()
        return await real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(OutboxRepository, "mark_sent", flaky)
    assert await d.dispatch() == 1
    assert failures == []
    assert (await row(factory, one)).status is OutboxStatus.SENT
    assert await d.dispatch() == 0
    assert [r.text for r in channel.sent] == ["once"]


async def test_an_unexpected_error_after_the_call_is_not_guessed_unsent(
    factory: SessionFactory,
) -> None:
    class Broken(Recorder):
        async def send(self, address: Address, reply: Reply) -> Delivery:
            self.sent.append(reply)
            raise RuntimeError("response could not be read")

    channel = Broken()
    d = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    one = await queue_reply(factory, Reply(text="x"))
    await d.dispatch()
    assert (await row(factory, one)).status is OutboxStatus.UNKNOWN
    assert await d.dispatch() == 0
    assert len(channel.sent) == 1


async def test_a_claim_taken_over_after_its_lease_lapsed_is_not_sent_by_the_first(
    factory: SessionFactory,
) -> None:
    channel = Recorder()
    slow = Dispatcher(
        factory=factory, channels={"console": channel}, state=LocalState(), lease_seconds=-1
    )
    one = await queue_reply(factory, Reply(text="x"))
    async with UnitOfWork(factory) as uow:
        (stale,) = await uow.outbox.claim(["console"], lease_seconds=-1)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        (fresh,) = await uow.outbox.claim(["console"])
        await uow.commit()
    assert not await slow._deliver(stale)
    assert channel.sent == []
    fast = Dispatcher(factory=factory, channels={"console": channel}, state=LocalState())
    assert await fast._deliver(fresh)
    assert (await row(factory, one)).status is OutboxStatus.SENT
    assert len(channel.sent) == 1


async def test_a_stuck_platform_does_not_hold_up_another(factory: SessionFactory) -> None:
    quick = Recorder()

    class Stuck(Recorder):
        def __init__(self) -> None:
            super().__init__()
            self.release = asyncio.Event()

        async def send(self, address: Address, reply: Reply) -> Delivery:
            await self.release.wait()
            return await super().send(address, reply)

    stuck = Stuck()
    d = Dispatcher(
        factory=factory,
        channels={"console": stuck, "webchat": quick},
        state=LocalState(),
        sweep_seconds=0.05,
    )
    await queue_reply(factory, Reply(text="held"))
    async with UnitOfWork(factory) as uow:
        for i in range(3):
            uow.outbox.add(
                platform="webchat",
                conversation_key=f"webchat:w{i}:",
                address=Address(channel="webchat", conversation=f"w{i}", user="u").to_dict(),
                reply=Reply(text=f"web {i}").to_dict(),
            )
        await uow.commit()
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        for _ in range(500):
            if len(quick.sent) == 3:
                break
            await asyncio.sleep(0.01)
        assert sorted(r.text for r in quick.sent) == ["web 0", "web 1", "web 2"]
        assert stuck.sent == []
    finally:
        stuck.release.set()
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [r.text for r in stuck.sent] == ["held"]


async def test_a_held_reply_waits_without_using_up_attempts_or_pausing_others(
    factory: SessionFactory,
) -> None:
    held = DeliveryError("window closed", retry_after=60.0, hold=True)
    channel = Recorder([held] * 5)
    d = Dispatcher(
        factory=factory, channels={"console": channel}, state=LocalState(), max_attempts=3
    )
    one = await queue_reply(factory, Reply(text="INC-1 is resolved"))
    for _ in range(5):
        assert await d.dispatch() == 1
        stored = await row(factory, one)
        assert stored.status is OutboxStatus.PENDING
        assert stored.attempts == 0
        assert stored.next_attempt_at > utcnow() + timedelta(seconds=30)
        await make_due(factory)
    assert await d.dispatch() == 1
    assert [r.text for r in channel.sent] == ["INC-1 is resolved"]


async def test_replies_a_page_reads_itself_are_settled_together(factory: SessionFactory) -> None:
    class Page(Recorder):
        name = "webchat"
        platforms = ("webchat",)

        async def send(self, address: Address, reply: Reply) -> Delivery:
            self.sent.append(reply)
            return Delivery(detail="stored")

    page = Page()
    d = Dispatcher(factory=factory, channels={"webchat": page}, state=LocalState())
    async with UnitOfWork(factory) as uow:
        for i in range(3):
            uow.outbox.add(
                platform="webchat",
                conversation_key=f"webchat:w{i}:",
                address=Address(channel="webchat", conversation=f"w{i}", user="u").to_dict(),
                reply=Reply(text=f"web {i}", sensitive=i == 2).to_dict(),
            )
        await uow.commit()
    commits: list[object] = []
    event.listen(factory.kw["bind"].sync_engine, "commit", commits.append)
    assert await d.dispatch() == 3
    assert sorted(r.text for r in page.sent) == ["web 0", "web 1", "web 2"]
    # One transaction claims and records them all: none per reply.
    assert len(commits) == 1
    async with UnitOfWork(factory) as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [r.status for r in rows] == [OutboxStatus.SENT] * 3
    assert all(r.sent_at is not None and r.lease_until is None for r in rows)
    assert rows[2].reply["text"] == "[sent; not kept]"
    assert await d.dispatch() == 0


async def test_a_page_reply_claimed_again_by_another_is_left_to_it(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        uow.outbox.add(
            platform="webchat",
            conversation_key="webchat:w:",
            address=Address(channel="webchat", conversation="w", user="u").to_dict(),
            reply=Reply(text="hello").to_dict(),
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        (stale,) = await uow.outbox.claim(["webchat"], lease_seconds=-1)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        (fresh,) = await uow.outbox.claim(["webchat"])
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert (
            await uow.outbox.mark_sent_many([(stale.id, stale.attempts)], held=OutboxStatus.PENDING)
            == set()
        )
        assert await uow.outbox.mark_sent_many(
            [(fresh.id, fresh.attempts)], held=OutboxStatus.PENDING
        ) == {fresh.id}
        await uow.commit()


async def test_a_kick_naming_platforms_wakes_only_their_drains(factory: SessionFactory) -> None:
    d = Dispatcher(
        factory=factory, channels={"console": Recorder(), "webchat": Recorder()}, state=LocalState()
    )
    d.kick([1], platforms={"webchat", "telegram"})
    assert d._wake["webchat"].is_set()
    assert not d._wake["console"].is_set()
    d.kick([2])
    assert d._wake["console"].is_set()


async def test_a_drain_looks_for_lapsed_sends_once_a_sweep(factory: SessionFactory) -> None:
    d = Dispatcher(
        factory=factory, channels={"console": Recorder()}, state=LocalState(), sweep_seconds=60
    )
    assert d._lapsed_due("console")
    assert not d._lapsed_due("console")
    assert d._lapsed_due("webchat")


async def test_claimed_replies_are_plain_values_not_session_objects(
    factory: SessionFactory,
) -> None:
    one = await queue_reply(factory, Reply(text="hello"))
    async with UnitOfWork(factory) as uow:
        (claimed,) = await uow.outbox.claim(["console"])
        assert not uow.session.identity_map
        await uow.commit()
    assert (claimed.id, claimed.attempts, claimed.status) == (one, 1, OutboxStatus.PENDING)
    assert claimed.reply["text"] == "hello"


async def test_a_page_reply_is_delivered_by_its_commit_unless_it_holds_a_secret(
    factory: SessionFactory,
) -> None:
    page = Address(channel="webchat", conversation="v_1", user="v_1")
    async with UnitOfWork(factory) as uow:
        add_reply(uow, page, Reply(text="hello"), inbox_id=None)
        add_reply(uow, page, Reply(text="code 1234", sensitive=True), inbox_id=None)
        add_reply(uow, ADDRESS, Reply(text="console"), inbox_id=None)
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [(r.reply["text"], r.status) for r in rows] == [
            ("hello", OutboxStatus.SENT),
            ("code 1234", OutboxStatus.PENDING),
            ("console", OutboxStatus.PENDING),
        ]
        assert rows[0].sent_at is not None
        # The page reads it at once, as it reads every reply that is not dead.
        assert [r.reply["text"] for r in await uow.outbox.history("webchat", page.key)] == [
            "hello",
            "code 1234",
        ]
    page_channel, console = Recorder(), Recorder()
    d = Dispatcher(
        factory=factory,
        channels={"webchat": page_channel, "console": console},
        state=LocalState(),
    )
    assert await d.dispatch() == 2
    assert [r.text for r in page_channel.sent] == ["code 1234"]
    assert [r.text for r in console.sent] == ["console"]
