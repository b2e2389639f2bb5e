"""The soak (`make soak`): mixed load for minutes while workers die and Redis restarts.

Web chat, Slack and Telegram messages arrive at a steady rate at one web process in front
of two workers (PostgreSQL + a private Redis this test owns). Every `SOAK_KILL_EVERY`
seconds one worker is SIGKILLed and started again; half way through, Redis is stopped for
a few seconds and started again. Requests the web answers 503 (it cannot persist) are
retried like the platforms retry. Afterwards the inbox and the outbox are given time to
drain (as long as they keep moving, up to `SOAK_DRAIN_SECONDS`), and the figures are
printed from what the database and the fake platforms saw: acknowledged, lost, still
waiting, duplicate tickets, duplicate sends, 5xx, ack latency, and the outbox age per
platform. An acknowledged message is lost only if it has no ticket and no inbox row still
waiting to be handled; one that is merely waiting is reported (and fails the soak) as such.

Not part of `make test` (it takes `SOAK_SECONDS`, five minutes by default); the same
scenario, shorter, is in the fault tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import InboxStatus, OutboxStatus
from store.models import InboxEvent, OutboxMessage, Ticket
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.integration.load import Outcome, outcome
from tests.integration.procs import environment, free_port, processes, start, wait_healthy
from tests.payloads import load
from tests.services import PrivateRedis

pytestmark = [pytest.mark.soak]

SECONDS = float(os.environ.get("SOAK_SECONDS", "300"))
RATE = float(os.environ.get("SOAK_RATE", "100"))
KILL_EVERY = float(os.environ.get("SOAK_KILL_EVERY", "30"))
REDIS_DOWN_SECONDS = float(os.environ.get("SOAK_REDIS_DOWN", "5"))
# The drain ends when nothing is left, when nothing moved for DRAIN_STALL seconds, or at
# DRAIN_SECONDS: slow workers get their time, stuck ones do not hold the run for ever.
DRAIN_SECONDS = float(os.environ.get("SOAK_DRAIN_SECONDS", "1800"))
DRAIN_STALL = float(os.environ.get("SOAK_DRAIN_STALL", "60"))
SIGNING_SECRET = "soak-signing-secret"
TELEGRAM_SECRET = "soak-telegram-secret"
TEXT = "The VPN is down for the whole team and nobody can connect"
MARK = re.compile(r"\[soak (\w+)\]")


@dataclass
class Figures:
    acknowledged: set[str] = field(default_factory=set)
    attempts: int = 0
    unavailable: int = 0  # 503 while storage was down; retried
    server_errors: int = 0  # any other 5xx
    refused: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


Build = Callable[[str, int], tuple[str, bytes, dict[str, str]]]


def _slack(base: str, mark: str, i: int) -> tuple[str, bytes, dict[str, str]]:
    body = load("slack", "events_api_message_im.json")
    body["event_id"] = f"Ev{mark}"
    body["event_time"] = int(time.time())
    event = body["event"]
    event.update(
        user=f"U0SOAK{i:06d}",
        channel=f"D0SOAK{i:06d}",
        text=f"{TEXT} [soak {mark}]",
        ts=f"{time.time():.6f}",
        client_msg_id=str(uuid.uuid4()),
    )
    event.pop("blocks", None)
    raw = json.dumps(body).encode()
    ts = str(int(time.time()))
    sig = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": "v0=" + sig.hexdigest(),
    }
    return f"{base}/slack/events", raw, headers


def _telegram(base: str, mark: str, i: int) -> tuple[str, bytes, dict[str, str]]:
    update = load("telegram", "docs_update_message_text_private.json")
    update["update_id"] = 500_000_000 + i
    message = update["message"]
    message["message_id"] = i + 1
    message["from"]["id"] = message["chat"]["id"] = 700_000_000 + i
    message["text"] = f"{TEXT} [soak {mark}]"
    message["date"] = int(time.time())
    message.pop("entities", None)
    headers = {
        "content-type": "application/json",
        "x-telegram-bot-api-secret-token": TELEGRAM_SECRET,
    }
    return f"{base}/telegram/webhook", json.dumps(update).encode(), headers


async def _post(
    http: aiohttp.ClientSession, figures: Figures, mark: str, req: tuple[str, bytes, dict[str, str]]
) -> None:
    url, body, headers = req
    for attempt in range(40):
        figures.attempts += 1
        start_at = time.perf_counter()
        try:
            async with http.post(url, data=body, headers=headers) as res:
                await res.read()
                status = res.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        if 200 <= status < 300:
            figures.latencies_ms.append((time.perf_counter() - start_at) * 1000)
            figures.acknowledged.add(mark)
            return
        if status == 503:
            figures.unavailable += 1
        elif status >= 500:
            figures.server_errors += 1
        elif status:
            figures.refused[status] += 1
            return
        if "x-slack-request-timestamp" in headers:
            headers = {**headers, "x-slack-retry-num": str(attempt + 1)}
        await asyncio.sleep(min(0.25 * 2**attempt, 2.0))


async def _webchat(http: aiohttp.ClientSession, base: str, figures: Figures, mark: str) -> None:
    for _ in range(40):
        try:
            async with http.post(f"{base}/webchat/session") as res:
                if res.status == 200:
                    token = (await res.json())["token"]
                    break
                if res.status >= 500 and res.status != 503:
                    figures.server_errors += 1
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.5)
    else:
        return
    body = json.dumps({"id": mark, "text": f"{TEXT} [soak {mark}]"}).encode()
    headers = {"content-type": "application/json", "x-webchat-token": token}
    await _post(http, figures, mark, (f"{base}/webchat/messages", body, headers))


async def _load(base: str, figures: Figures, chaos: Callable[[float], None]) -> int:
    """Open loop at RATE for SECONDS; `chaos(elapsed)` is called every half second."""
    timeout = aiohttp.ClientTimeout(total=30)
    sent = 0
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession(timeout=timeout) as http:
        begin = time.perf_counter()
        next_chaos = 0.0
        while (elapsed := time.perf_counter() - begin) < SECONDS:
            if elapsed >= next_chaos:
                await asyncio.to_thread(chaos, elapsed)
                next_chaos = elapsed + 0.5
            due = int(elapsed * RATE)
            while sent < due:
                mark = uuid.uuid4().hex[:16]
                pick = random.random()
                if pick < 0.5:
                    coro = _webchat(http, base, figures, mark)
                elif pick < 0.8:
                    coro = _post(http, figures, mark, _slack(base, mark, sent))
                else:
                    coro = _post(http, figures, mark, _telegram(base, mark, sent))
                task = asyncio.create_task(coro)
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                sent += 1
            await asyncio.sleep(0.005)
        if tasks:
            await asyncio.gather(*tasks)
    return sent


async def _tickets_and_ages(settings: Settings) -> tuple[Counter[str], dict[str, list[float]]]:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with session_factory(engine)() as s:
            descriptions = (await s.execute(select(Ticket.description))).scalars().all()
            rows = (
                await s.execute(
                    select(OutboxMessage.platform, OutboxMessage.created_at, OutboxMessage.sent_at)
                )
            ).all()
    finally:
        await engine.dispose()
    marks: Counter[str] = Counter()
    for d in descriptions:
        marks.update(set(MARK.findall(d or "")))
    ages: dict[str, list[float]] = {}
    for platform, created, sent in rows:
        if sent is not None:
            ages.setdefault(platform, []).append((sent - created).total_seconds())
    return marks, ages


@dataclass(frozen=True)
class Backlog:
    """What is left to do: inbox events not handled yet, replies not sent yet."""

    events: int
    replies: int

    @classmethod
    def of(cls, seen: Outcome) -> Backlog:
        replies = sum(
            seen.outbox.get(s.value, 0) for s in (OutboxStatus.PENDING, OutboxStatus.SENDING)
        )
        return cls(seen.inbox.get(InboxStatus.PENDING.value, 0), replies)

    @property
    def total(self) -> int:
        return self.events + self.replies


async def _drain(settings: Settings) -> tuple[Backlog, float]:
    """Wait while the backlog shrinks; what is left and how long it took."""
    begin = time.monotonic()
    last_progress = begin
    backlog = Backlog.of(await asyncio.to_thread(outcome, settings))
    while backlog.total and time.monotonic() - begin < DRAIN_SECONDS:
        if time.monotonic() - last_progress >= DRAIN_STALL:
            break
        await asyncio.sleep(1)
        now = Backlog.of(await asyncio.to_thread(outcome, settings))
        if now.total < backlog.total:
            last_progress = time.monotonic()
        backlog = now
    return backlog, time.monotonic() - begin


async def _waiting_marks(settings: Settings) -> set[str]:
    """Marks of the messages whose inbox event is still waiting to be handled."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with session_factory(engine)() as s:
            payloads = (
                await s.execute(
                    select(InboxEvent.payload).where(InboxEvent.status == InboxStatus.PENDING)
                )
            ).scalars()
            return {m for p in payloads for m in MARK.findall(json.dumps(p))}
    finally:
        await engine.dispose()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else 0.0


def _duplicates(pairs: list[tuple[str, str]]) -> int:
    return sum(n - 1 for n in Counter(pairs).values() if n > 1)


async def test_soak(
    redis_fault_settings: Settings, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = redis_fault_settings
    with FakeSlackApi() as slack, FakeTelegramApi() as telegram:
        env = environment(
            settings,
            SLACK_BOT_TOKEN="xoxb-soak",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            TELEGRAM_BOT_TOKEN=TOKEN,
            TELEGRAM_SECRET_TOKEN=TELEGRAM_SECRET,
            TELEGRAM_API_URL=telegram.api_url,
            TELEGRAM_MODE="webhook",
            RECLAIM_IDLE_MS="3000",
            OUTBOX_LEASE_SECONDS="10",
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        figures = Figures()
        with processes(tmp_path) as running:
            web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
            running.append(web)
            wait_healthy(port, web)
            workers = [start(["worker"], env, tmp_path / f"worker{i}.log") for i in (0, 1)]
            running.extend(workers)
            state = {"kills": 0, "last_kill": 0.0, "redis_done": False}

            def chaos(elapsed: float) -> None:
                if elapsed - state["last_kill"] >= KILL_EVERY:
                    victim = int(state["kills"]) % len(workers)
                    workers[victim].kill()
                    fresh = start(
                        ["worker"], env, tmp_path / f"worker{victim}-{state['kills']}.log"
                    )
                    workers[victim] = fresh
                    running.append(fresh)
                    state["kills"] = int(state["kills"]) + 1
                    state["last_kill"] = elapsed
                if not state["redis_done"] and elapsed >= SECONDS / 2:
                    # Started again from a timer, so the load goes on while it is down.
                    private_redis.kill()
                    threading.Timer(REDIS_DOWN_SECONDS, private_redis.start).start()
                    state["redis_done"] = True

            sent = await _load(base, figures, chaos)
            backlog, drained_in = await _drain(settings)
            exited = [w.tail(5) for w in workers if w.popen.poll() is not None]
        marks, ages = await _tickets_and_ages(settings)
        unhandled = figures.acknowledged - set(marks)
        waiting = unhandled & await _waiting_marks(settings)
        lost = len(unhandled - waiting)
        duplicate_tickets = sum(n - 1 for n in marks.values() if n > 1)
        slack_posts = [(p.channel, p.text) for p in slack.posted]
        telegram_posts = [(str(m.get("chat_id")), str(m.get("text"))) for m in telegram.sent()]
        duplicate_sends = _duplicates(slack_posts) + _duplicates(telegram_posts)
        rows = [
            ("messages sent", sent),
            ("acknowledged", len(figures.acknowledged)),
            ("lost (no ticket, nothing waiting)", lost),
            ("still waiting in the inbox", len(waiting)),
            ("replies still waiting to be sent", backlog.replies),
            ("drain seconds", round(drained_in, 1)),
            ("duplicate tickets", duplicate_tickets),
            ("duplicate sends", duplicate_sends),
            ("5xx (other than 503)", figures.server_errors),
            ("503 while storage was down (retried)", figures.unavailable),
            ("refused 4xx", sum(figures.refused.values())),
            ("workers killed", state["kills"]),
            ("workers that exited by themselves", len(exited)),
            ("ack p50 ms", round(figures.percentile(50), 1)),
            ("ack p99 ms", round(figures.percentile(99), 1)),
            ("ack max ms", round(max(figures.latencies_ms), 1)),
        ]
        rows += [(f"outbox age p99 s ({p})", round(_p99(a), 2)) for p, a in sorted(ages.items())]
        width = max(len(k) for k, _ in rows)
        print("\nsoak figures")
        for k, v in rows:
            print(f"  {k:<{width}}  {v}")
        assert not exited, "\n\n".join(exited)
        assert lost == 0, f"{lost} acknowledged messages lost: no ticket and no inbox event left"
        assert not waiting, (
            f"{len(waiting)} acknowledged messages still waiting in the inbox after "
            f"{drained_in:.0f} s of draining: not lost, but not handled in time"
        )
        assert backlog.replies == 0, f"{backlog.replies} replies still waiting to be sent"
        assert duplicate_tickets == 0
        assert duplicate_sends == 0
        assert figures.server_errors == 0
        assert not figures.refused, figures.refused
        assert figures.percentile(99) <= 1000
        assert max(figures.latencies_ms) < 2500
