"""Resident memory of each role: once started, and after a burst of messages through it.

The same deployments as `bench pipeline` (`benchmarks.servers.deployment`). "Started" is
read once the first message has come back as a reply, so a worker has loaded its model and
the web process has served a request; "after" is read once the burst has been handled, and
"peak" is the highest reading taken while it ran. Each mode ends with the reference: the bare
endpoint (`benchmarks.bare`: FastAPI under the same uvicorn flags, doing nothing) once it has
answered, the least any web process of this stack holds on this machine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from benchmarks.pipeline import _max_inbox_id, _requests, _wait_handled, closed_loop_n
from benchmarks.servers import Proc, bare_server, deployment

REFERENCE = "bare (reference)"


@dataclass(frozen=True)
class RoleMemory:
    """Resident memory of one process role at start, after the load and at its peak."""

    role: str
    started_mb: float
    after_mb: float
    peak_mb: float

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON line of the report."""
        return {
            "role": self.role,
            "started_mb": round(self.started_mb, 1),
            "after_mb": round(self.after_mb, 1),
            "peak_mb": round(self.peak_mb, 1),
        }


def _mb(proc: Proc) -> float:
    return proc.sample_rss() / 2**20


def run_mode(
    mode: str, *, messages: int = 300, workers: int = 1, extra_env: dict[str, str] | None = None
) -> list[RoleMemory]:
    """Start the deployment of `mode`, send one message, then `messages`; memory per process."""
    with deployment(mode, workers=workers, extra_env=extra_env) as dep:
        build = _requests(dep.base_url, visitors=50)
        start_id = asyncio.run(_max_inbox_id(dep.database_url))
        asyncio.run(closed_loop_n(build, 1, concurrency=1))
        _wait_handled(dep, start_id, 1, timeout=300, every=0.2)
        started = [_mb(p) for p in dep.procs]
        for p in dep.procs:
            p.peak_rss = 0
        start_id = asyncio.run(_max_inbox_id(dep.database_url))
        sent = asyncio.run(closed_loop_n(lambda i: build(i + 1), messages, concurrency=16))
        _wait_handled(dep, start_id, sent, timeout=600, every=0.2)
        after = [_mb(p) for p in dep.procs]
        names = (
            ["serve"] if mode == "embedded" else ["web"] + [f"worker{i}" for i in range(workers)]
        )
        roles = [
            RoleMemory(name, s, a, max(p.peak_rss / 2**20, s, a))
            for name, s, a, p in zip(names, started, after, dep.procs, strict=True)
        ]
    return [*roles, reference()]


def reference() -> RoleMemory:
    """The bare endpoint's resident memory once it has answered a request."""
    with bare_server() as (url, proc):
        httpx.post(f"{url}/bare", content=b"{}", timeout=10)
        rss = _mb(proc)
        return RoleMemory(REFERENCE, rss, rss, max(proc.peak_rss / 2**20, rss))
