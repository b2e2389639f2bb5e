"""Riding out outages: back-off, one log line per outage, crash points."""

from __future__ import annotations

import subprocess
import sys

from redis.exceptions import ConnectionError as RedisConnectionError
from structlog.testing import capture_logs

from bot.faults import ENV, FAULT_EXIT_CODE
from bot.resilience import Outage


def test_an_outage_is_logged_when_it_starts_and_when_it_ends() -> None:
    outage = Outage("worker", base=0.25, cap=10.0)
    with capture_logs() as logs:
        delays = [outage.failed(RedisConnectionError("refused")) for _ in range(12)]
        outage.recovered()
        outage.recovered()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("outage.started", "warning"),
        ("outage.ended", "info"),
    ]
    assert logs[1]["retries"] == 12
    assert all(0 < d <= 10.0 for d in delays)
    assert max(delays[:2]) <= 0.5 < min(delays[-3:])  # it grows, up to the cap
    assert not outage.down


def test_one_failure_that_the_retry_gets_past_is_no_outage() -> None:
    # A pooled connection that a restarted server closed fails once, then works.
    outage = Outage("worker")
    with capture_logs() as logs:
        outage.failed(RedisConnectionError("Connection closed by server."))
        outage.recovered()
    assert logs == []
    assert not outage.down


def test_a_bug_is_reported_as_an_error_not_an_outage() -> None:
    outage = Outage("scheduler.sweep")
    with capture_logs() as logs:
        outage.failed(ValueError("bad"))
    assert [(e["event"], e["log_level"]) for e in logs] == [("loop.failed", "error")]


def _reach(spec: str, times: int) -> subprocess.CompletedProcess[str]:
    code = f"from bot.faults import reached\nfor _ in range({times}): reached('crash_after_commit')"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**__import__("os").environ, ENV: spec},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_a_crash_point_ends_the_process_the_nth_time_it_is_reached() -> None:
    assert _reach("crash_after_commit@3", 2).returncode == 0
    died = _reach("crash_after_commit@3", 3)
    assert died.returncode == FAULT_EXIT_CODE
    assert "crash_after_commit" in died.stderr
    assert _reach("crash_after_claim", 5).returncode == 0


def test_an_outage_is_logged_without_the_statement_or_its_parameters() -> None:
    from sqlalchemy.exc import InterfaceError

    error = InterfaceError(
        "INSERT INTO outbox (reply) VALUES ($1)",
        ("call me on +14155550101",),
        Exception("connection is closed"),
    )
    outage = Outage("worker")
    with capture_logs() as logs:
        outage.failed(error)
        outage.failed(error)
    assert logs[0]["error"] == "InterfaceError: connection is closed"
