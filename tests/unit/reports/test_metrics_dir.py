"""The multiprocess metrics directory is emptied when a serving role starts, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot import metrics
from bot.cli_boot import empty_multiprocess_dir
from tests.unit.reports.test_metrics import _INCREMENT, _SCRAPE

LINE = 'switchboard_tickets_created_total{channel="slack",kind="request"}'


def _scrape(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _SCRAPE],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return done.stdout


def _start(env: dict[str, str], *argv: str) -> None:
    """Import the command line as `switchboard ARGV` would, without running a command."""
    code = f"import sys; sys.argv = {['switchboard', *argv]!r}; import bot.cli"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_serve_and_web_start_from_an_empty_directory(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROCESS_ENV: str(tmp_path), "PYTHONPATH": os.getcwd()}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _INCREMENT], env=env, check=True, timeout=60)
    assert f"{LINE} 2.0" in _scrape(env)

    _start(env, "worker")  # a worker leaves the web's files alone
    _start(env, "report", "--help")
    assert f"{LINE} 2.0" in _scrape(env)

    _start(env, "serve", "--help")  # asking for help starts nothing
    assert f"{LINE} 2.0" in _scrape(env)

    _start(env, "serve")
    assert LINE not in _scrape(env)

    subprocess.run([sys.executable, "-c", _INCREMENT], env=env, check=True, timeout=60)
    _start(env, "web")
    assert LINE not in _scrape(env)


def test_the_directory_is_made_when_missing_and_other_files_stay(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    env = {metrics.MULTIPROCESS_ENV: str(folder)}
    assert empty_multiprocess_dir(env, ["switchboard", "web"]) == 0
    assert folder.is_dir()
    (folder / "counter_1.db").write_bytes(b"x")
    (folder / "gauge_livesum_2.db").write_bytes(b"x")
    (folder / "README").write_text("kept")
    assert empty_multiprocess_dir(env, ["switchboard", "serve", "--port", "8001"]) == 2
    assert [p.name for p in folder.iterdir()] == ["README"]
    assert empty_multiprocess_dir({}, ["switchboard", "serve"]) == 0
    assert empty_multiprocess_dir(env, ["switchboard"]) == 0
