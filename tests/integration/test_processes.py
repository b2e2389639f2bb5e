"""Real processes: web and workers on PostgreSQL + Redis, and a SIGKILL in the middle.

The embedded variant (one `switchboard serve` on SQLite, killed and started again) runs
without services; the scaled ones need PostgreSQL and Redis.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from tests.integration.load import outcome, send_messages, wait_done_at_least, wait_until
from tests.integration.procs import environment, free_port, processes, start, wait_healthy

MESSAGES = 200
FAST_RECOVERY = {
    "RECLAIM_IDLE_MS": "1500",
    "OUTBOX_LEASE_SECONDS": "2",
    "WORKER_BATCH": "4",
    "WORKER_CONCURRENCY": "2",
}


def assert_exactly_once(result, messages: int) -> None:  # type: ignore[no-untyped-def]
    assert result.inbox == {"done": messages}, result.inbox
    assert set(result.outbox) == {"sent"}, result.outbox
    # Every event got exactly one reply: nothing lost, nothing handled twice.
    assert len(result.replies_per_event) == messages
    assert set(result.replies_per_event.values()) == {1}
    assert result.incidents == result.reported
    assert result.reported >= messages * 0.9


@pytest.mark.integration
def test_web_and_two_workers(scaled_settings: Settings, tmp_path: Path) -> None:
    env = environment(scaled_settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        running += [start(["worker"], env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        wait_healthy(port, web)
        send_messages(f"http://127.0.0.1:{port}", 40)
        result = wait_until(scaled_settings, 40, timeout=120)
    assert_exactly_once(result, 40)


@pytest.mark.integration
def test_worker_killed_mid_stream(scaled_settings: Settings, tmp_path: Path) -> None:
    env = environment(scaled_settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        wait_healthy(port, web)
        send_messages(f"http://127.0.0.1:{port}", MESSAGES)
        victim = start(["worker"], env, tmp_path / "victim.log")
        running.append(victim)
        wait_done_at_least(scaled_settings, 20)
        victim.kill()
        at_kill = outcome(scaled_settings)
        assert at_kill.inbox.get("pending", 0) > 0, "the kill came too late to test recovery"
        running += [start(["worker"], env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        result = wait_until(scaled_settings, MESSAGES, timeout=180)
    assert_exactly_once(result, MESSAGES)


def test_embedded_serve_killed_and_restarted(demo_settings: Settings, tmp_path: Path) -> None:
    env = environment(demo_settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        first = start(["serve", "--port", str(port)], env, tmp_path / "serve1.log")
        running.append(first)
        wait_healthy(port, first)
        send_messages(f"http://127.0.0.1:{port}", MESSAGES)
        first.kill()
        at_kill = outcome(demo_settings)
        assert at_kill.inbox.get("pending", 0) > 0, "the kill came too late to test recovery"
        second = start(["serve", "--port", str(port)], env, tmp_path / "serve2.log")
        running.append(second)
        wait_healthy(port, second)
        result = wait_until(demo_settings, MESSAGES, timeout=180)
    assert_exactly_once(result, MESSAGES)
