"""Threads that log while pytest swaps its capture streams do not crash the test run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CONFTEST = """
from tests import log_output

log_output.install()
"""

# Two threads log without pause, as an app's event loop thread does under `TestClient`,
# while hundreds of tests start and stop `capfd` and `capsys` and read them: with
# structlog printing to `sys.stdout` this crashed the interpreter in most runs.
STRESS = """
import threading
import time

import pytest
import structlog

STOP = threading.Event()


def _log() -> None:
    log = structlog.get_logger()
    while not STOP.is_set():
        log.info("scheduler.leadership", leading=True)


@pytest.fixture(scope="module", autouse=True)
def loggers():
    threads = [threading.Thread(target=_log) for _ in range(2)]
    for t in threads:
        t.start()
    yield
    STOP.set()
    for t in threads:
        t.join()


@pytest.mark.parametrize("i", range(150))
def test_fd(capfd, i):
    time.sleep(0.002)
    capfd.readouterr()


@pytest.mark.parametrize("i", range(150))
def test_sys(capsys, i):
    time.sleep(0.002)
    capsys.readouterr()


@pytest.mark.parametrize("i", range(150))
def test_plain(i):
    time.sleep(0.002)
"""


def test_logging_threads_survive_capture_swaps(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST, "utf-8")
    (tmp_path / "test_stress.py").write_text(STRESS, "utf-8")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-X", "faulthandler", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    tail = done.stdout[-2000:] + done.stderr[-2000:]
    assert "Fatal Python error" not in tail, tail
    assert done.returncode == 0, tail
    assert "450 passed" in done.stdout, tail
