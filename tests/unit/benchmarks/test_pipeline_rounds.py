"""`bench pipeline --rounds`: each round's reference beside its modes, then each mode's median."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from benchmarks import pipeline
from bot.cli import app as cli


def _figures(mode: str, throughput: float) -> pipeline.PipelineFigures:
    return pipeline.PipelineFigures(
        mode=mode,
        messages=100,
        throughput=throughput,
        steady_rate=50.0,
        p50_ms=10.0,
        p95_ms=20.0,
        rss_mb={"serve": 100.0},
    )


def test_each_round_is_compared_with_its_own_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    bares = iter([1000.0, 2000.0, 4000.0])
    rates = iter([100.0, 100.0, 100.0])
    monkeypatch.setattr(pipeline, "bare_rate", lambda: next(bares))
    monkeypatch.setattr(pipeline, "run_mode", lambda mode, **_kw: _figures(mode, next(rates)))
    result = CliRunner().invoke(
        cli, ["bench", "pipeline", "--mode", "embedded", "--rounds", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    per_round = [r["ratio_to_bare"] for r in rows if r.get("mode") == "embedded" and "round" in r]
    assert per_round == [0.1, 0.05, 0.025]
    assert [r["round"] for r in rows if r["mode"] == "bare"] == [1, 2, 3]
    summary = rows[-1]
    assert summary == {
        "mode": "embedded",
        "rounds": 3,
        "ratio_median": 0.05,
        "ratio_min": 0.025,
        "ratio_max": 0.1,
    }


def test_one_round_prints_what_it_always_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "bare_rate", lambda: 2000.0)
    monkeypatch.setattr(pipeline, "run_mode", lambda mode, **_kw: _figures(mode, 150.0))
    result = CliRunner().invoke(cli, ["bench", "pipeline", "--mode", "embedded", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows[0] == {"mode": "bare", "requests_per_s": 2000.0}
    assert rows[1]["ratio_to_bare"] == 0.075
    assert len(rows) == 2
    assert "round" not in rows[1]
