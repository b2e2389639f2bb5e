"""The ack path under load: verify, parse, durable inbox, enqueue, 200, beside a bare endpoint."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks.loadgen import LoadResult, closed_loop, open_loop
from benchmarks.servers import Deployment, Proc, bare_server, deployment


@dataclass(frozen=True)
class IngestFigures:
    target: str
    mode: str
    max_rate: float
    steady_rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    rss_mb: float

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "mode": self.mode,
            "max_requests_per_s": round(self.max_rate, 1),
            "steady_requests_per_s": round(self.steady_rate, 1),
            "ack_ms_p50": round(self.p50_ms, 2),
            "ack_ms_p99": round(self.p99_ms, 2),
            "ack_ms_max": round(self.max_ms, 2),
            "errors": self.errors,
            "web_rss_mb": round(self.rss_mb, 1),
        }


def webchat_request(base_url: str) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    token = httpx.post(f"{base_url}/webchat/session", timeout=10).json()["token"]
    headers = {"Content-Type": "application/json", "X-Webchat-Token": token}
    run = uuid.uuid4().hex[:8]

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps({"id": f"{run}-{i}", "text": f"my printer is jammed again ({i})"})
        return f"{base_url}/webchat/messages", body.encode(), headers

    return build


def bare_request(base_url: str) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    headers = {"Content-Type": "application/json"}

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps({"id": f"bare-{i}", "text": f"my printer is jammed again ({i})"})
        return f"{base_url}/bare", body.encode(), headers

    return build


def measure(
    target: str,
    mode: str,
    build: Callable[[int], tuple[str, bytes, dict[str, str]]],
    proc: Proc,
    *,
    rate: float,
    seconds: float,
    concurrency: int,
) -> IngestFigures:
    burst: LoadResult = asyncio.run(closed_loop(build, seconds=seconds, concurrency=concurrency))
    proc.sample_rss()
    steady: LoadResult = asyncio.run(open_loop(build, rate=rate, seconds=seconds))
    proc.sample_rss()
    errors = dict(burst.errors)
    for k, v in steady.errors.items():
        errors[k] = errors.get(k, 0) + v
    return IngestFigures(
        target=target,
        mode=mode,
        max_rate=burst.rate,
        steady_rate=steady.rate,
        p50_ms=steady.percentile(50),
        p99_ms=steady.percentile(99),
        max_ms=max(steady.latencies_ms, default=float("nan")),
        errors=errors,
        rss_mb=proc.peak_rss / 2**20,
    )


def run(
    modes: list[str],
    *,
    rate: float = 500.0,
    seconds: float = 10.0,
    concurrency: int = 32,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[IngestFigures]:
    """The bare endpoint, then the web chat route in each mode, in one run."""
    figures: list[IngestFigures] = []
    progress("bare endpoint")
    with bare_server() as (url, proc):
        figures.append(
            measure(
                "bare",
                "-",
                bare_request(url),
                proc,
                rate=rate,
                seconds=seconds,
                concurrency=concurrency,
            )
        )
    for mode in modes:
        progress(f"web chat route, {mode}")
        dep: Deployment
        # Scaled: the web role alone, as it runs on its own machines; embedded: the one
        # process that does everything, worker included.
        with deployment(mode, roles="web") as dep:
            figures.append(
                measure(
                    "webchat",
                    mode,
                    webchat_request(dep.base_url),
                    dep.procs[0],
                    rate=rate,
                    seconds=seconds,
                    concurrency=concurrency,
                )
            )
    return figures
