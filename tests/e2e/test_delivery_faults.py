"""The dispatcher against misbehaving platforms: each reply arrives once, waits are honoured.

Real channels talk to the local fakes over HTTP; the outbox is SQLite. Rate-limit waits are
the platforms' own (2 s for Slack, 3 s for Telegram, Twilio's Retry-After, X's reset), so
these tests take a few seconds each; back-off is checked from the stored schedule instead.

Over 400 lines because T9 is one scenario across four platforms: the fixtures that start a
real channel against each fake are shared by every case here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.outbox import Dispatcher
from channels.base import Channel, MemoryCursors
from channels.conversation import Address, Reply
from channels.slack import SlackChannel
from channels.telegram.channel import TelegramChannel
from channels.twilio.channel import SmsChannel
from channels.x.channel import XChannel
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.enums import OutboxStatus
from store.migrate import upgrade_engine
from store.models import OutboxMessage
from store.state import LocalState
from store.types import utcnow
from store.uow import UnitOfWork
from tests.e2e.conftest import until
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    FakeTwilioApi,
    too_many_requests,
)
from tests.fakes.x_api import KEYS, FakeXApi, dm_path, rate_limited

SLACK_POST = "/api/chat.postMessage"
PHONE = "+14155550101"
X_USER = "3001969357"


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/faults.db")
    await upgrade_engine(engine)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def slack(slack_fake: FakeSlackApi) -> AsyncIterator[SlackChannel]:
    ch = SlackChannel(bot_token="xoxb-test", api_url=slack_fake.api_url, timeout=1.0)
    await ch.start()
    yield ch
    await ch.aclose()


@pytest.fixture
async def telegram(telegram_fake: FakeTelegramApi) -> AsyncIterator[TelegramChannel]:
    ch = TelegramChannel(
        token=TOKEN, secret_token="s", api_url=telegram_fake.api_url, request_timeout=1
    )
    await ch.start()
    yield ch
    await ch.aclose()


@pytest.fixture
async def twilio(twilio_fake: FakeTwilioApi) -> AsyncIterator[SmsChannel]:
    ch = SmsChannel(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_url=twilio_fake.base_url,
        public_url="https://sb.example.com",
        cursors=MemoryCursors(),
        request_timeout=1.0,
    )
    await ch.start()
    yield ch
    await ch.aclose()


@pytest.fixture
async def x(x_fake: FakeXApi) -> AsyncIterator[XChannel]:
    ch = XChannel(cursors=MemoryCursors(), api_url=x_fake.base_url, **KEYS)  # type: ignore[arg-type]
    await ch.start()
    yield ch
    await ch.aclose()


async def queue(factory: SessionFactory, address: Address, text: str) -> int:
    async with UnitOfWork(factory) as uow:
        row = uow.outbox.add(
            platform=address.channel,
            conversation_key=address.key,
            address=address.to_dict(),
            reply=Reply(text=text).to_dict(),
        )
        await uow.commit()
        return row.id


async def stored(factory: SessionFactory, outbox_id: int) -> OutboxMessage:
    async with UnitOfWork(factory) as uow:
        found = await uow.session.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


async def statuses(factory: SessionFactory) -> dict[int, OutboxStatus]:
    async with UnitOfWork(factory) as uow:
        rows = await uow.session.execute(select(OutboxMessage.id, OutboxMessage.status))
        return {int(i): OutboxStatus(s) for i, s in rows.all()}


class Running:
    """A dispatcher's `run` as a background task."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.dispatcher.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


def dispatcher(factory: SessionFactory, channels: dict[str, Channel], **kw: object) -> Dispatcher:
    return Dispatcher(
        factory=factory, channels=channels, state=LocalState(), sweep_seconds=0.05, **kw
    )  # type: ignore[arg-type]


async def sent_once(factory: SessionFactory, outbox_id: int) -> bool:
    return (await stored(factory, outbox_id)).status is OutboxStatus.SENT


# -- 429 with an advertised wait ---------------------------------------------------------------


async def test_slack_retry_after_is_honoured_and_the_reply_posted_once(
    factory: SessionFactory, slack: SlackChannel, slack_fake: FakeSlackApi
) -> None:
    slack_fake.add_response(
        SLACK_POST,
        status=429,
        json={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "2"},
    )
    one = await queue(factory, Address(channel="slack", conversation="C1", user=""), "INC-1 logged")
    async with Running(dispatcher(factory, {"slack": slack})):
        await until(lambda: sent_once(factory, one))
    first, second = (c.at for c in slack_fake.calls_to(SLACK_POST))
    assert second - first >= 2.0 - 0.05
    assert [p.text for p in slack_fake.in_channel("C1")] == ["INC-1 logged"]


async def test_telegram_retry_after_is_honoured_and_the_reply_sent_once(
    factory: SessionFactory, telegram: TelegramChannel, telegram_fake: FakeTelegramApi
) -> None:
    path = telegram_fake.path("sendMessage")
    telegram_fake.add_response(
        path,
        status=429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 3",
            "parameters": {"retry_after": 3},
        },
    )
    one = await queue(
        factory, Address(channel="telegram", conversation="5550102", user="5550102"), "hello"
    )
    async with Running(dispatcher(factory, {"telegram": telegram})):
        await until(lambda: sent_once(factory, one))
    first, second = (c.at for c in telegram_fake.calls_to(path))
    assert second - first >= 3.0 - 0.05
    assert [m["text"] for m in telegram_fake.posted_to(5550102)] == ["hello"]


async def test_twilio_20429_is_honoured_and_the_sms_sent_once(
    factory: SessionFactory, twilio: SmsChannel, twilio_fake: FakeTwilioApi
) -> None:
    twilio_fake.add_response(twilio_fake.messages_path, **too_many_requests(retry_after=2))
    one = await queue(
        factory, Address(channel="sms", conversation=PHONE, user=PHONE), "INC-2 logged"
    )
    async with Running(dispatcher(factory, {"sms": twilio})):
        await until(lambda: sent_once(factory, one))
    first, second = (c.at for c in twilio_fake.calls_to(twilio_fake.messages_path))
    assert second - first >= 2.0 - 0.05
    # One refused request, then the one that went through; no third.
    assert twilio_fake.bodies_to(PHONE) == ["INC-2 logged"] * 2


async def test_x_waits_for_the_advertised_reset(
    factory: SessionFactory, x: XChannel, x_fake: FakeXApi
) -> None:
    reset = int(time.time()) + 5
    x_fake.add_response(dm_path(X_USER), **rate_limited(reset))
    one = await queue(factory, Address(channel="x", conversation=f"dm:{X_USER}", user=X_USER), "hi")
    async with Running(dispatcher(factory, {"x": x})):
        await until(lambda: sent_once(factory, one), timeout=30)
    first, second = x_fake.wall_times(dm_path(X_USER))[:2]
    assert first < reset <= second
    assert x_fake.dms(X_USER) == ["hi", "hi"]  # the refused request and the one taken


# -- 5xx bursts: exponential back-off with jitter, then the dead letter -------------------------


async def test_server_errors_back_off_exponentially_then_dead_letter(
    factory: SessionFactory, telegram: TelegramChannel, telegram_fake: FakeTelegramApi
) -> None:
    path = telegram_fake.path("sendMessage")
    telegram_fake.add_response(
        path,
        status=502,
        json={"ok": False, "error_code": 502, "description": "Bad Gateway"},
        times=4,
    )
    d = dispatcher(factory, {"telegram": telegram}, max_attempts=4)
    one = await queue(
        factory, Address(channel="telegram", conversation="5550103", user="5550103"), "x"
    )
    waits = []
    for attempt in range(1, 5):
        assert await d.dispatch() == 1
        row = await stored(factory, one)
        if attempt < 4:
            assert row.status is OutboxStatus.PENDING
            waits.append((row.next_attempt_at - utcnow()).total_seconds())
            # Not due before its time: nothing is claimed and nothing reaches the platform.
            assert await d.dispatch() == 0
            assert len(telegram_fake.calls_to(path)) == attempt
            async with UnitOfWork(factory) as uow:
                await uow.session.execute(
                    update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
                )
                await uow.commit()
    for n, wait in enumerate(waits):
        base = 2.0**n
        assert 0.5 * base - 0.2 <= wait <= 1.5 * base
    assert (await stored(factory, one)).status is OutboxStatus.DEAD
    assert telegram_fake.posted_to(5550103) == []
    assert await d.dispatch() == 0


async def test_back_off_is_jittered() -> None:
    waits = {round(Dispatcher._backoff(3), 6) for _ in range(50)}
    assert len(waits) > 10
    assert all(2.0 <= w <= 6.0 for w in waits)


# -- hangs and dropped connections after the platform received the request ---------------------


async def test_a_telegram_send_that_hangs_is_marked_unknown_not_resent(
    factory: SessionFactory, telegram: TelegramChannel, telegram_fake: FakeTelegramApi
) -> None:
    path = telegram_fake.path("sendMessage")
    telegram_fake.add_fault(path, "hang", seconds=2.5)
    one = await queue(
        factory, Address(channel="telegram", conversation="5550104", user="5550104"), "once"
    )
    d = dispatcher(factory, {"telegram": telegram})
    assert await d.dispatch() == 1
    assert (await stored(factory, one)).status is OutboxStatus.UNKNOWN
    assert await d.dispatch() == 0
    assert len(telegram_fake.calls_to(path)) == 1


async def test_a_twilio_connection_dropped_after_sending_is_unknown_not_resent(
    factory: SessionFactory, twilio: SmsChannel, twilio_fake: FakeTwilioApi
) -> None:
    twilio_fake.add_fault(twilio_fake.messages_path, "drop")
    one = await queue(factory, Address(channel="sms", conversation=PHONE, user=PHONE), "once")
    d = dispatcher(factory, {"sms": twilio})
    assert await d.dispatch() == 1
    assert (await stored(factory, one)).status is OutboxStatus.UNKNOWN
    assert await d.dispatch() == 0
    assert len(twilio_fake.calls_to(twilio_fake.messages_path)) == 1


@pytest.mark.parametrize("kind", ["hang", "drop"])
async def test_a_slack_post_whose_answer_is_lost_is_found_by_its_key_not_reposted(
    factory: SessionFactory, slack: SlackChannel, slack_fake: FakeSlackApi, kind: str
) -> None:
    slack_fake.add_fault(SLACK_POST, kind, seconds=2.0)
    one = await queue(factory, Address(channel="slack", conversation="C2", user=""), "only once")
    d = dispatcher(factory, {"slack": slack})
    await d.dispatch()
    async with Running(d):
        await until(lambda: sent_once(factory, one))
    assert [p.text for p in slack_fake.in_channel("C2")] == ["only once"]
    assert len(slack_fake.calls_to(SLACK_POST)) == 1


# -- one platform's backlog does not hold up another --------------------------------------------


async def test_a_throttled_slack_backlog_does_not_delay_telegram(
    factory: SessionFactory,
    slack: SlackChannel,
    slack_fake: FakeSlackApi,
    telegram: TelegramChannel,
    telegram_fake: FakeTelegramApi,
) -> None:
    slack_fake.throttle(
        SLACK_POST,
        per_second=1.0,
        key=lambda call: str(slack_fake.args(call).get("channel")),
        json={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "1"},
    )
    for i in range(100):
        await queue(factory, Address(channel="slack", conversation="CBUSY", user=""), f"slack {i}")
    chats = [str(7000 + i) for i in range(20)]
    for chat in chats:
        await queue(
            factory, Address(channel="telegram", conversation=chat, user=chat), f"tg {chat}"
        )
    d = dispatcher(factory, {"slack": slack, "telegram": telegram})
    start = time.monotonic()
    async with Running(d):
        await until(lambda: len(telegram_fake.sent()) >= 20, timeout=20)
        took = time.monotonic() - start
        slack_done = len(slack_fake.in_channel("CBUSY"))
    assert took < 2.5
    assert slack_done < 100
    assert sorted(m["chat_id"] for m in telegram_fake.sent()) == sorted(chats)
    # The Slack messages that did go out are in order, each once.
    texts = [p.text for p in slack_fake.in_channel("CBUSY")]
    assert texts == [f"slack {i}" for i in range(len(texts))]


# -- a dispatcher killed between the platform call and the record -------------------------------

SCRIPT = """
import asyncio, sys
from bot.outbox import Dispatcher
from channels.telegram.channel import TelegramChannel
from store.db import create_engine, session_factory
from store.state import LocalState

async def main(db, url, token):
    engine = create_engine(db)
    ch = TelegramChannel(token=token, secret_token="s", api_url=url, request_timeout=2)
    await ch.start()
    d = Dispatcher(factory=session_factory(engine), channels={"telegram": ch},
                   state=LocalState(), lease_seconds=0.5)
    await d.dispatch()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_a_crash_after_sending_does_not_resend_after_restart(
    factory: SessionFactory,
    tmp_path: Path,
    telegram: TelegramChannel,
    telegram_fake: FakeTelegramApi,
) -> None:
    one = await queue(
        factory, Address(channel="telegram", conversation="5550105", user="5550105"), "crash"
    )
    env = {**os.environ, "SWITCHBOARD_FAULTS": "crash_during_send"}
    db = f"sqlite+aiosqlite:///{tmp_path}/faults.db"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", SCRIPT, db, telegram_fake.api_url, TOKEN],
        env=env,
        capture_output=True,
        timeout=45,
        check=False,
    )
    assert done.returncode == 70, done.stderr.decode()[-2000:]
    assert len(telegram_fake.sent()) == 1
    assert (await stored(factory, one)).status is OutboxStatus.SENDING
    # After restart, once the dead process's lease has lapsed.
    d = dispatcher(factory, {"telegram": telegram})

    async def settled() -> bool:
        await d.dispatch()
        return (await stored(factory, one)).status is OutboxStatus.UNKNOWN

    await until(settled)
    assert await d.dispatch() == 0
    assert len(telegram_fake.sent()) == 1
    assert (await statuses(factory)) == {one: OutboxStatus.UNKNOWN}


# -- three dispatchers sharing one limiter on PostgreSQL and Redis -------------------------------


@pytest.mark.integration
async def test_three_dispatchers_share_the_wait_and_send_each_reply_once(
    pg_url: str, redis_target: tuple[str, str], slack_fake: FakeSlackApi
) -> None:
    from redis.asyncio import Redis

    from store.redis_state import RedisState

    url, prefix = redis_target
    database, connect_args = normalise_database_url(pg_url)
    engine = create_engine(database, connect_args=connect_args)
    await upgrade_engine(engine)
    factory = session_factory(engine)
    redis = Redis.from_url(url)
    channels = []
    try:
        slack_fake.add_response(
            SLACK_POST,
            status=429,
            json={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": "2"},
        )
        ids = [
            await queue(
                factory, Address(channel="slack", conversation=f"C{i % 4}", user=""), f"r{i}"
            )
            for i in range(12)
        ]
        runners = []
        for _ in range(3):
            ch = SlackChannel(bot_token="xoxb-test", api_url=slack_fake.api_url, timeout=2.0)
            await ch.start()
            channels.append(ch)
            runners.append(
                Running(
                    Dispatcher(
                        factory=factory,
                        channels={"slack": ch},
                        state=RedisState(redis, prefix=prefix),
                        sweep_seconds=0.05,
                    )
                )
            )
        async with runners[0], runners[1], runners[2]:

            async def all_sent() -> bool:
                got = await statuses(factory)
                return all(got.get(i) is OutboxStatus.SENT for i in ids)

            await until(all_sent, timeout=40)
        calls = slack_fake.calls_to(SLACK_POST)
        refused_at = calls[0].at
        # Nobody asked again before the advertised wait was over (requests already on their
        # way when the 429 was answered aside).
        early = [round(c.at - refused_at, 3) for c in calls[1:] if c.at - refused_at < 1.95]
        assert all(t < 0.1 for t in early), early
        posted = [p.text for i in range(4) for p in slack_fake.in_channel(f"C{i}")]
        assert sorted(posted) == sorted(f"r{i}" for i in range(12))
        for i in range(4):
            texts = [p.text for p in slack_fake.in_channel(f"C{i}")]
            assert texts == [f"r{n}" for n in range(12) if n % 4 == i]
    finally:
        for ch in channels:
            await ch.aclose()
        await redis.aclose()
        await engine.dispose()
