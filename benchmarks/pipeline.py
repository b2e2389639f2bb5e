"""Ingest to the reply leaving for the platform: throughput, latency at a steady rate, memory."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.ingest import bare_request
from benchmarks.loadgen import closed_loop, open_loop
from benchmarks.servers import Deployment, bare_server, deployment
from store.db import create_engine, create_reader, normalise_database_url, session_factory
from store.enums import InboxStatus, OutboxStatus
from store.models import InboxEvent, OutboxMessage

S = TypeVar("S", bound=Select[*tuple[Any, ...]])

TEXT = "The VPN is down and I cannot connect from home"


@dataclass(frozen=True)
class PipelineFigures:
    """End-to-end message rate, latency and memory of one deployment mode."""

    mode: str
    messages: int
    throughput: float
    steady_rate: float
    p50_ms: float
    p95_ms: float
    rss_mb: dict[str, float]
    api_p50_ms: float = float("nan")
    api_p99_ms: float = float("nan")
    api_max_ms: float = float("nan")

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON line of the report."""
        return {
            "mode": self.mode,
            "messages": self.messages,
            "messages_per_s": round(self.throughput, 1),
            "steady_messages_per_s": round(self.steady_rate, 1),
            "end_to_end_ms_p50": round(self.p50_ms, 1),
            "end_to_end_ms_p95": round(self.p95_ms, 1),
            "rss_mb": {k: round(v, 1) for k, v in self.rss_mb.items()},
            "api_during_burst_ms": {
                "p50": round(self.api_p50_ms, 1),
                "p99": round(self.api_p99_ms, 1),
                "max": round(self.api_max_ms, 1),
            },
        }


def _requests(base_url: str, visitors: int) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    tokens = [
        httpx.post(f"{base_url}/webchat/session", timeout=10).json()["token"]
        for _ in range(visitors)
    ]
    run = uuid.uuid4().hex[:8]

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json", "X-Webchat-Token": tokens[i % len(tokens)]}
        body = json.dumps({"id": f"{run}-{i}", "text": f"{TEXT} ({i})"})
        return f"{base_url}/webchat/messages", body.encode(), headers

    return build


def _outside_engine(database_url: str) -> AsyncEngine:
    """An engine for reading the deployment's database from the bench's own process."""
    url, args = normalise_database_url(database_url)
    # Counting from outside must not queue for the server's write lock.
    return create_reader(url, connect_args=args) or create_engine(url, connect_args=args)


def _handled(stmt: S, since_id: int) -> S:
    """`stmt` over the events after `since_id` that are done and have a reply sent."""
    return stmt.join(OutboxMessage, OutboxMessage.inbox_id == InboxEvent.id).where(
        InboxEvent.id > since_id,
        InboxEvent.status == InboxStatus.DONE,
        OutboxMessage.status == OutboxStatus.SENT,
    )


async def _latencies(database_url: str, since_id: int) -> tuple[int, list[float], float, float]:
    """Handled events after `since_id`: count, per-event latency (ms), first in, last out."""
    engine = _outside_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            rows = (
                await s.execute(
                    _handled(
                        select(InboxEvent.received_at, func.max(OutboxMessage.sent_at)), since_id
                    ).group_by(InboxEvent.id, InboxEvent.received_at)
                )
            ).all()
    finally:
        await engine.dispose()
    lat = [(sent - got).total_seconds() * 1000 for got, sent in rows if sent and got]
    first = min((got.timestamp() for got, _ in rows), default=0.0)
    last = max((sent.timestamp() for _, sent in rows if sent), default=0.0)
    return len(rows), lat, first, last


async def _max_inbox_id(database_url: str) -> int:
    engine = _outside_engine(database_url)
    try:
        async with session_factory(engine)() as s:
            return int((await s.execute(select(func.max(InboxEvent.id)))).scalar() or 0)
    finally:
        await engine.dispose()


def _wait_handled(
    dep: Deployment, since_id: int, count: int, timeout: float, every: float = 0.5
) -> None:
    """Wait until `count` events after `since_id` are handled, sampling memory every `every` s.

    The poll counts in the database over one connection: the client shares the machine with
    the deployment it measures, so it must not spend a core of its own reading every row.
    """
    deadline = time.monotonic() + timeout
    if not asyncio.run(_poll_handled(dep, since_id, count, deadline, every)):
        raise RuntimeError(f"only part of {count} messages handled after {timeout}s")


async def _poll_handled(
    dep: Deployment, since_id: int, count: int, deadline: float, every: float
) -> bool:
    engine = _outside_engine(dep.database_url)
    handled = _handled(select(func.count(func.distinct(InboxEvent.id))), since_id)
    try:
        while time.monotonic() < deadline:
            for p in dep.procs:
                p.sample_rss()
            async with session_factory(engine)() as s:
                if int((await s.execute(handled)).scalar() or 0) >= count:
                    return True
            await asyncio.sleep(every)
        return False
    finally:
        await engine.dispose()


def ratio_spread(ratios: list[float]) -> tuple[float, float, float]:
    """The lowest, median and highest of a mode's ratios over the rounds."""
    ordered = sorted(ratios)
    return ordered[0], statistics.median(ordered), ordered[-1]


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bare_rate(seconds: float = 10.0, concurrency: int = 32) -> float:
    """Requests/s the do-nothing endpoint answers under the same load generator: the reference."""
    with bare_server() as (url, _):
        result = asyncio.run(
            closed_loop(bare_request(url), seconds=seconds, concurrency=concurrency)
        )
    return result.rate


class ApiProbe:
    """`GET /api/tickets?limit=1` every 100 ms in a thread: how the API answers meanwhile."""

    def __init__(self, base_url: str, token: str) -> None:
        self.url = f"{base_url}/api/tickets?limit=1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    client.get(self.url, headers=self.headers).raise_for_status()
                except httpx.HTTPError:
                    pass  # a failed probe still took its time
                self.latencies.append((time.perf_counter() - started) * 1000)
                self._stop.wait(0.1)

    def __enter__(self) -> ApiProbe:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=70)


def _api_token(dep: Deployment) -> str:
    made = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "token", "create", "--as", "bob@example.com"],
        env=dep.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip().splitlines()[-1]


def run_mode(
    mode: str, *, messages: int, rate: float, seconds: float, workers: int = 2, history: int = 0
) -> PipelineFigures:
    """Start a deployment in `mode`, push a burst then a steady load, and measure both.

    `history` past conversations are written into the database first (`benchmarks.history`).
    """
    with deployment(mode, workers=workers, history=history) as dep:
        build = _requests(dep.base_url, visitors=200)
        # Throughput: push a burst, time from the first event stored to the last reply sent.
        start_id = asyncio.run(_max_inbox_id(dep.database_url))
        with ApiProbe(dep.base_url, _api_token(dep)) as probe:
            burst = asyncio.run(closed_loop_n(build, messages))
            _wait_handled(dep, start_id, burst, timeout=600)
        _, _, first, last = asyncio.run(_latencies(dep.database_url, start_id))
        throughput = burst / (last - first) if last > first else float("nan")
        # Latency at a steady rate well below capacity.
        start_id = asyncio.run(_max_inbox_id(dep.database_url))
        steady = asyncio.run(open_loop(_offset(build, messages), rate=rate, seconds=seconds))
        _wait_handled(dep, start_id, steady.ok, timeout=300)
        _, lat, _, _ = asyncio.run(_latencies(dep.database_url, start_id))
        names = (
            ["serve"] if mode == "embedded" else ["web"] + [f"worker{i}" for i in range(workers)]
        )
        rss = {name: p.peak_rss / 2**20 for name, p in zip(names, dep.procs, strict=True)}
        return PipelineFigures(
            mode=mode,
            messages=burst,
            throughput=throughput,
            steady_rate=steady.rate,
            p50_ms=_pct(lat, 50),
            p95_ms=_pct(lat, 95),
            rss_mb=rss,
            api_p50_ms=_pct(probe.latencies, 50),
            api_p99_ms=_pct(probe.latencies, 99),
            api_max_ms=max(probe.latencies, default=float("nan")),
        )


def _offset(
    build: Callable[[int], tuple[str, bytes, dict[str, str]]], by: int
) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    return lambda i: build(i + by)


async def closed_loop_n(
    build: Callable[[int], tuple[str, bytes, dict[str, str]]], n: int, concurrency: int = 32
) -> int:
    """Send exactly `n` requests with `concurrency` in flight; the number accepted."""
    result = await closed_loop(build, seconds=3600, concurrency=concurrency, total=n)
    return result.ok
