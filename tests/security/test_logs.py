"""T16: flows on every platform at DEBUG leave no token, secret, link code or full number.

The flows run in a fresh process (`tests.security.log_flows`) whose logging is configured
first, as in production; its whole stderr is searched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bot.config import Settings
from tests.conftest import Scoreboard
from tests.security.harness import SECRETS
from tests.security.log_flows import NUMBERS


def test_debug_logs_of_every_platform_hold_no_secret(
    demo_settings: Settings, model_root: Path, tmp_path: Path, scoreboard: Scoreboard
) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "PTB_TIMEDELTA": "true"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.security.log_flows",
            demo_settings.database_url,
            str(model_root),
        ],
        capture_output=True,
        env=env,
        timeout=240,
        check=False,
    )
    logs = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 0, logs[-3000:]
    produced = json.loads(run.stdout.decode().strip().splitlines()[-1])
    lines = [line for line in logs.splitlines() if line.strip()]
    assert len(lines) > 50  # DEBUG really was on
    assert any('"level": "debug"' in line for line in lines)
    needles = [*SECRETS, *produced["codes"], *produced["secrets"]]
    needles += [re.sub(r"\D", "", n) for n in NUMBERS]  # digits, however formatted
    leaks = {}
    for needle in needles:
        hits = [line for line in lines if needle in line or needle in re.sub(r"\D", "", line)]
        if needle.isdigit():
            hits = [line for line in lines if needle in re.sub(r"[^\d\n]", "", line)]
        if hits:
            leaks[needle] = hits[0][:300]
    scoreboard.record("secrets in logs", probes=len(lines), failures=len(leaks))
    assert leaks == {}
