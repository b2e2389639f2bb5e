"""T6: workers killed again and again (SIGKILL and the crash points) lose nothing.

Every message becomes exactly one ticket and one reply; nothing stays pending.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings
from bot.faults import ENV as FAULTS_ENV
from bot.faults import FAULT_EXIT_CODE
from tests.integration.load import outcome, send_messages, wait_done_at_least, wait_until
from tests.integration.procs import environment, free_port, processes, start, wait_healthy
from tests.integration.test_processes import FAST_RECOVERY, assert_exactly_once

MESSAGES = 300

# Each round starts a worker that dies: at a crash point (the n-th batch it reaches it) or
# by SIGKILL once it has handled some more events.
ROUNDS = (
    "crash_after_claim@2",
    "crash_after_commit@2",
    "sigkill",
    "crash_after_commit@1",
    "crash_after_claim@3",
    "sigkill",
)


@pytest.mark.integration
@pytest.mark.slow
def test_workers_killed_again_and_again_lose_nothing(
    redis_fault_settings: Settings, tmp_path: Path
) -> None:
    settings = redis_fault_settings
    env = environment(settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        wait_healthy(port, web)
        send_messages(f"http://127.0.0.1:{port}", MESSAGES)
        for n, death in enumerate(ROUNDS):
            done = outcome(settings).inbox.get("done", 0)
            fault = {} if death == "sigkill" else {FAULTS_ENV: death}
            victim = start(["worker"], {**env, **fault}, tmp_path / f"victim{n}.log")
            running.append(victim)
            if death == "sigkill":
                wait_done_at_least(settings, done + 12, timeout=60)
                victim.kill()
            else:
                assert victim.popen.wait(timeout=60) == FAULT_EXIT_CODE, victim.tail()
        left = outcome(settings).inbox.get("pending", 0)
        assert left > 0, "every event was handled before the last kill: nothing was tested"
        running += [start(["worker"], env, tmp_path / f"worker{i}.log") for i in (1, 2)]
        result = wait_until(settings, MESSAGES, timeout=120)
    assert_exactly_once(result, MESSAGES)
    assert result.incidents == MESSAGES
