"""The ack path under load: verify, parse, durable inbox, enqueue, 200, beside a bare endpoint."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from benchmarks.loadgen import LoadResult, closed_loop, open_loop
from benchmarks.servers import Deployment, Proc, bare_server, deployment


@dataclass(frozen=True)
class IngestFigures:
    """Acknowledgement rate and latency of one ingest target, in one deployment mode."""

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
        """The figures as one JSON line of the report."""
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
    """Request builder for web chat messages, on a session opened once up front."""
    token = httpx.post(f"{base_url}/webchat/session", timeout=10).json()["token"]
    headers = {"Content-Type": "application/json", "X-Webchat-Token": token}
    run = uuid.uuid4().hex[:8]

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps({"id": f"{run}-{i}", "text": f"my printer is jammed again ({i})"})
        return f"{base_url}/webchat/messages", body.encode(), headers

    return build


SLACK_SECRET = "bench-signing-secret"


def slack_request(base_url: str) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    """A signed Events API `message.im` callback, as Slack sends it, distinct per request."""
    run = uuid.uuid4().hex[:8]

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        ts = f"{1726133700 + i}.{i % 1_000_000:06d}"
        body = json.dumps(
            {
                "token": "verification_token",
                "team_id": "T111",
                "api_app_id": "A111",
                "event": {
                    "user": "W222",
                    "type": "message",
                    "ts": ts,
                    "text": f"my printer is jammed again ({i})",
                    "channel": "D111",
                    "event_ts": ts,
                    "channel_type": "im",
                },
                "type": "event_callback",
                "event_id": f"Ev{run}{i}",
                "event_time": int(time.time()),
            }
        ).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, "sha256")
        headers = {
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        }
        return f"{base_url}/slack/events", body, headers

    return build


def bare_request(base_url: str) -> Callable[[int], tuple[str, bytes, dict[str, str]]]:
    """Request builder for the bare endpoint, the ceiling the web stack itself allows."""
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
    """Drive `build` at `rate` for `seconds` and read back the acknowledgement figures."""
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
    targets: tuple[str, ...] = ("slack", "webchat"),
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[IngestFigures]:
    """The bare endpoint, then each route (`slack`, `webchat`) in each mode, in one run."""
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
    routes = {"slack": slack_request, "webchat": webchat_request}
    with bare_server("benchmarks.slack_sink:app") as (sink, _):
        slack_env = {
            "SLACK_SIGNING_SECRET": SLACK_SECRET,
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_API_URL": f"{sink}/api/",
        }
        for mode in modes:
            for target in targets:
                dep: Deployment
                progress(f"{target} route, {mode}")
                # Scaled: the web role alone, as it runs on its own machines; embedded: the one
                # process that does everything, worker included. A fresh deployment per route,
                # so no backlog from one route's load is left for the next.
                with deployment(mode, roles="web", extra_env=slack_env) as dep:
                    figures.append(
                        measure(
                            target,
                            mode,
                            routes[target](dep.base_url),
                            dep.procs[0],
                            rate=rate,
                            seconds=seconds,
                            concurrency=concurrency,
                        )
                    )
    return figures
