"""`switchboard bench sla` on a small dataset: it runs and reports both datasets."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bot.cli_bench import app


def test_bench_sla_reports_the_reference_and_the_big_dataset() -> None:
    result = CliRunner().invoke(
        app, ["sla", "--tickets", "300", "--due", "20", "--ticks", "5", "--json"]
    )
    assert result.exit_code == 0, result.output
    reference, big = (json.loads(line) for line in result.stdout.splitlines() if line.strip())
    assert (reference["open_tickets"], big["open_tickets"]) == (20, 300)
    # Each measured wake-up acted on exactly the ticket whose warning came due.
    assert big["ticks"] == big["tickets_acted"] == 5
    assert reference["ratio_to_reference"] is None
    assert big["ratio_to_reference"] > 0
    # Once a second: each tick takes every ticket due in that second, in one transaction.
    assert big["second_ticks"] >= 1
    assert big["second_tickets_acted"] >= 1
    # The bare write is measured in the same run, and the ticks are given in its units.
    assert big["bare_write_ms"] > 0
    assert big["tick_to_bare_write"] > 0
    assert big["second_tick_to_bare_write"] > 0


def test_bench_sla_postgres_needs_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SWITCHBOARD_TEST_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["sla", "--postgres", "--tickets", "10", "--due", "5"])
    assert result.exit_code == 2
