"""The `switchboard` command line: help pages and the console chat's refusal of a stranger."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command", [[], ["serve"], ["web"], ["worker"], ["seed"], ["chat"], ["db"], ["nlu", "parse"]]
)
def test_help_shows_no_type_on_flags_and_each_default_once(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--help" in result.output
    assert "<bool>" not in result.output
    assert "default: $PORT or 8000)." not in result.output
    if command in (["serve"], ["web"]):
        assert result.output.count("$PORT or 8000") == 1
        assert "<int>" in result.output  # options that take a value keep their type


def test_chat_as_an_unknown_person_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'switchboard.db'}",
        NLU_MODEL_PATH=str(tmp_path / "no-model"),
        ENVIRONMENT="test",
        COLUMNS="200",
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "chat", "--as", "unknown@example.com"],
        cwd=ROOT,
        env=env,
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    said = [line for line in done.stderr.splitlines() if line.strip()]
    assert said == [
        "No person with email unknown@example.com. Run `switchboard seed --demo` or "
        "`switchboard people import FILE` first."
    ]
    # Refused before the language model was loaded (or trained).
    assert not (tmp_path / "no-model").exists()
