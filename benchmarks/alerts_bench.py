"""Monitoring alerts: acknowledgement rate of `POST /api/alerts` and correlation drain time.

Events/s accepted by `POST /api/alerts` beside a bare endpoint, and the time correlation takes
to drain a burst of events.

The ack figure is the web role alone (verify the token, parse, durable inbox, enqueue, 202),
measured in the same run as the bare endpoint so that the ratio does not depend on the
machine. The drain figure posts a burst of events in lists of `BATCH` (an alert storm: many
events, few problems) and times from the first request to the last inbox row done.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from benchmarks.ingest import bare_request
from benchmarks.loadgen import LoadResult, closed_loop
from benchmarks.servers import ROOT, Deployment, Proc, bare_server, deployment
from store.db import create_engine, normalise_database_url, session_factory
from store.enums import InboxStatus, TicketKind
from store.models import InboxEvent, Ticket

BATCH = 500
"""Events per request in the drain burst (the most `POST /api/alerts` takes in one body)."""

PROBLEMS = 200
"""Distinct fingerprints in the drain burst: each fires, repeats, and many clear."""

Build = Callable[[int], tuple[str, bytes, dict[str, str]]]


@dataclass(frozen=True)
class AckFigures:
    """How fast alert events are acknowledged at one target, in one deployment mode."""

    target: str
    mode: str
    events_per_s: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON line of the report."""
        return {
            "figure": "ack",
            "target": self.target,
            "mode": self.mode,
            "events_per_s": round(self.events_per_s, 1),
            "ack_ms_p50": round(self.p50_ms, 2),
            "ack_ms_p99": round(self.p99_ms, 2),
            "errors": self.errors,
        }


@dataclass(frozen=True)
class DrainFigures:
    """How long the workers take to turn a burst of accepted alerts into incidents."""

    mode: str
    events: int
    accepted: int
    post_seconds: float
    drain_seconds: float
    incidents: int
    dead: int

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON line of the report."""
        return {
            "figure": "drain",
            "mode": self.mode,
            "events": self.events,
            "accepted": self.accepted,
            "post_seconds": round(self.post_seconds, 2),
            "drain_seconds": round(self.drain_seconds, 2),
            "events_per_s": round(self.accepted / self.drain_seconds, 1)
            if self.drain_seconds
            else None,
            "incidents": self.incidents,
            "dead": self.dead,
        }


def integration_token(dep: Deployment, name: str = "bench") -> str:
    """A fresh integration token in the deployment's database, through the CLI."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "token", "create", "--integration", name],
        cwd=ROOT,
        env=dep.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _event(run: str, i: int, *, fingerprint: str, status: str = "firing") -> dict[str, object]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i)
    return {
        "source": "bench",
        "ci": f"bench-host-{fingerprint[-3:]}",
        "severity": "warning",
        "status": status,
        "fingerprint": fingerprint,
        "summary": f"Disk filling on {fingerprint}",
        "labels": {"run": run},
        # A distinct start per event: each is a new notification, not a retried delivery.
        "starts_at": start.isoformat(),
    }


def alert_request(base_url: str, token: str) -> Build:
    """Request builder for `POST /api/alerts`: one event per call, a few repeating fingerprints."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    run = uuid.uuid4().hex[:8]

    def build(i: int) -> tuple[str, bytes, dict[str, str]]:
        body = json.dumps(_event(run, i, fingerprint=f"{run}-{i % PROBLEMS:03d}"))
        return f"{base_url}/api/alerts", body.encode(), headers

    return build


def _ack(target: str, mode: str, result: LoadResult) -> AckFigures:
    return AckFigures(
        target=target,
        mode=mode,
        events_per_s=result.rate,
        p50_ms=result.percentile(50),
        p99_ms=result.percentile(99),
        errors=dict(result.errors),
    )


async def _inbox(database_url: str) -> tuple[int, int, int, int]:
    """Alert rows in the inbox: pending, done, dead, and incidents opened."""
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        async with session_factory(engine)() as s:
            rows = (
                await s.execute(
                    select(InboxEvent.status, func.count(InboxEvent.id))
                    .where(InboxEvent.platform == "alerts")
                    .group_by(InboxEvent.status)
                )
            ).all()
            incidents = (
                await s.execute(
                    select(func.count(Ticket.id)).where(Ticket.kind == TicketKind.INCIDENT)
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    counts = {str(status): int(n) for status, n in rows}
    return (
        counts.get(InboxStatus.PENDING.value, 0),
        counts.get(InboxStatus.DONE.value, 0),
        counts.get(InboxStatus.DEAD.value, 0),
        int(incidents),
    )


def _burst_bodies(events: int) -> list[bytes]:
    run = uuid.uuid4().hex[:8]
    rows = []
    for i in range(events):
        fingerprint = f"{run}-{i % PROBLEMS:03d}"
        # The last round of each problem clears it, so resolution is part of the drain.
        clears = i >= events - PROBLEMS and i % 2 == 0
        rows.append(
            _event(run, i, fingerprint=fingerprint, status="resolved" if clears else "firing")
        )
    return [json.dumps(rows[k : k + BATCH]).encode() for k in range(0, len(rows), BATCH)]


async def _post_all(url: str, token: str, bodies: list[bytes]) -> int:
    import aiohttp

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    accepted = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        for body in bodies:
            async with session.post(url, data=body, headers=headers) as res:
                if res.status != 202:
                    raise RuntimeError(f"POST /api/alerts answered {res.status}")
                accepted += int((await res.json())["accepted"])
    return accepted


def drain(mode: str, *, events: int, workers: int = 2, timeout: float = 600.0) -> DrainFigures:
    """Post `events` alert events and wait until correlation has handled every one."""
    with deployment(mode, workers=workers) as dep:
        token = integration_token(dep)
        bodies = _burst_bodies(events)
        start = time.monotonic()
        accepted = asyncio.run(_post_all(f"{dep.base_url}/api/alerts", token, bodies))
        posted = time.monotonic() - start
        deadline = start + timeout
        while True:
            pending, done, dead, incidents = asyncio.run(_inbox(dep.database_url))
            if pending == 0 and done + dead >= accepted:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{pending} alert events still pending after {timeout}s")
            for p in dep.procs:
                p.sample_rss()
            time.sleep(0.2)
        return DrainFigures(
            mode=mode,
            events=events,
            accepted=accepted,
            post_seconds=posted,
            drain_seconds=time.monotonic() - start,
            incidents=incidents,
            dead=dead,
        )


def ack(
    modes: list[str],
    *,
    seconds: float,
    concurrency: int,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[AckFigures]:
    """The bare endpoint, then `POST /api/alerts` on the web role of each mode, in one run."""
    figures = []
    progress("bare endpoint")
    proc: Proc
    with bare_server() as (url, proc):
        result = asyncio.run(
            closed_loop(bare_request(url), seconds=seconds, concurrency=concurrency)
        )
        figures.append(_ack("bare", "-", result))
    for mode in modes:
        progress(f"POST /api/alerts, {mode}")
        with deployment(mode, roles="web") as dep:
            build = alert_request(dep.base_url, integration_token(dep))
            result = asyncio.run(closed_loop(build, seconds=seconds, concurrency=concurrency))
            figures.append(_ack("alerts", mode, result))
    return figures
