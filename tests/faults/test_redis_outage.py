"""T7: Redis restarted (losing every key) under load; a stop during the outage.

Workers survive the outage without exiting, log it once, and drain the backlog after it;
nothing the web role acknowledged is lost. A worker told to stop while Redis is away exits
within 10 s.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from benchmarks.servers import Proc
from bot.config import Settings
from tests.faults.traffic import Traffic
from tests.integration.load import wait_done_at_least, wait_until
from tests.integration.procs import environment, free_port, processes, start, wait_healthy
from tests.integration.test_processes import FAST_RECOVERY, assert_exactly_once
from tests.services import PrivateRedis

OUTAGE_SECONDS = 5.0


def outages_logged(proc: Proc, loop: str | None = None) -> int:
    """How many outages of `loop` (of any loop: None) the process reported starting."""
    count = 0
    for line in proc.log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "outage.started" and loop in (None, entry.get("loop")):
            count += 1
    return count


def wait_for_outage(proc: Proc, loop: str | None, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if outages_logged(proc, loop) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"no outage #{count} of {loop} logged:\n{proc.tail()}")


def seconds_to_stop(proc: Proc) -> float:
    began = time.monotonic()
    os.killpg(proc.popen.pid, signal.SIGTERM)
    proc.popen.wait(timeout=30)
    return time.monotonic() - began


@pytest.mark.integration
@pytest.mark.slow
def test_redis_restart_under_load(
    redis_fault_settings: Settings, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = redis_fault_settings
    env = environment(settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        workers = [start(["worker"], env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        running += workers
        wait_healthy(port, web)
        traffic = Traffic(f"http://127.0.0.1:{port}", rate=20)
        traffic.start()
        try:
            wait_done_at_least(settings, 20, timeout=60)
            private_redis.kill()
            time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for an outcome
            during = traffic.snapshot()
            private_redis.start()
            accepted_before = traffic.accepted
            deadline = time.monotonic() + 30
            while traffic.accepted < accepted_before + 40 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            traffic.halt()
        answers = traffic.snapshot()
        # Redis is a fast path for the ack: events are stored in the inbox while it is away.
        assert set(answers) <= {202, 503}, answers
        assert during[202] > 0, during
        accepted = answers[202]
        result = wait_until(settings, accepted, timeout=120)
        for w in workers:
            assert w.popen.poll() is None, f"a worker exited during the outage:\n{w.tail()}"
            assert outages_logged(w, "worker") == 1, w.tail()

        # Stopping while Redis is away: out within 10 s.
        private_redis.kill()
        for w in workers:
            wait_for_outage(w, "worker", 2)
        took = [seconds_to_stop(w) for w in workers]
        assert max(took) < 10.0, took
        assert [w.popen.returncode for w in workers] == [0, 0]
    assert_exactly_once(result, accepted)
