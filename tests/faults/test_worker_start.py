"""A worker started while Redis is away waits for it instead of exiting, then works."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from tests.faults.test_redis_outage import outages_logged, seconds_to_stop, wait_for_outage
from tests.integration.load import send_messages, wait_until
from tests.integration.procs import environment, free_port, processes, start, wait_healthy
from tests.integration.test_processes import FAST_RECOVERY, assert_exactly_once
from tests.services import PrivateRedis


@pytest.mark.integration
@pytest.mark.slow
def test_worker_started_during_a_redis_outage_waits_then_works(
    redis_fault_settings: Settings, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    settings = redis_fault_settings
    env = environment(settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        private_redis.kill()
        worker = start(["worker"], env, tmp_path / "worker.log")
        running.append(worker)
        wait_for_outage(worker, "worker-start", 1)
        assert worker.popen.poll() is None, worker.tail()

        private_redis.start()
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        wait_healthy(port, web)
        send_messages(f"http://127.0.0.1:{port}", 20)
        result = wait_until(settings, 20, timeout=120)
        assert worker.popen.poll() is None, worker.tail()
        assert outages_logged(worker, "worker-start") == 1, worker.tail()

        # Stopping a worker that is still waiting for Redis: out within 10 s, cleanly.
        private_redis.kill()
        waiting = start(["worker"], env, tmp_path / "waiting.log")
        running.append(waiting)
        wait_for_outage(waiting, "worker-start", 1)
        assert seconds_to_stop(waiting) < 10.0
        assert waiting.popen.returncode == 0, waiting.tail()
    assert_exactly_once(result, 20)
