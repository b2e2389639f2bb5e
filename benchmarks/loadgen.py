"""Loopback load: a closed loop for throughput, an open loop at a fixed rate for latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

Request = Callable[[int], tuple[str, bytes, dict[str, str]]]
"""Builds request number i: (url, body, headers)."""


@dataclass
class LoadResult:
    """What one run saw: requests sent and answered, errors by kind, latencies of successes."""

    sent: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Successful requests per second over the run."""
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency at percentile `p` of the successful requests, in ms (NaN when none succeeded)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def error(self, key: str) -> None:
        """Count one failure under `key`: an HTTP status or an exception's class name."""
        self.errors[key] = self.errors.get(key, 0) + 1


async def _one(session: aiohttp.ClientSession, request: Request, i: int, out: LoadResult) -> None:
    url, body, headers = request(i)
    start = time.perf_counter()
    out.sent += 1
    try:
        async with session.post(url, data=body, headers=headers) as res:
            await res.read()
            if 200 <= res.status < 300:
                out.ok += 1
                out.latencies_ms.append((time.perf_counter() - start) * 1000)
            else:
                out.error(str(res.status))
    except (aiohttp.ClientError, TimeoutError) as e:
        out.error(type(e).__name__)


async def closed_loop(
    request: Request, *, seconds: float, concurrency: int, total: int | None = None
) -> LoadResult:
    """As fast as the server answers, with `concurrency` requests in flight.

    Stops after `seconds`, or after `total` requests when that comes first.
    """
    out = LoadResult()
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        deadline = time.perf_counter() + seconds
        start = time.perf_counter()

        async def lane() -> None:
            while time.perf_counter() < deadline:
                i = next(counter)
                if total is not None and i >= total:
                    return
                await _one(session, request, i, out)

        await asyncio.gather(*(lane() for _ in range(concurrency)))
        out.seconds = time.perf_counter() - start
    return out


async def open_loop(request: Request, *, rate: float, seconds: float) -> LoadResult:
    """Requests started on a fixed schedule, whether or not earlier ones have answered."""
    out = LoadResult()
    connector = aiohttp.TCPConnector(limit=1000)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks: list[asyncio.Task[None]] = []
        total = int(rate * seconds)
        start = time.perf_counter()
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(session, request, i, out)))
        await asyncio.gather(*tasks)
        out.seconds = time.perf_counter() - start
    return out
