"""The comparison scripts in benchmarks/ run and report what docs/nlu.md quotes."""

import json

import pytest

from benchmarks import datetime_compare, nlu_compare


def test_intent_comparison_rows(capsys: pytest.CaptureFixture[str]) -> None:
    nlu_compare.main(["--data", "clinc-slice", "--models", "numpy,sk-lr", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["model"] for r in rows] == ["numpy (shipped)", "sklearn TF-IDF + LogReg"]
    for row in rows:
        assert 0.5 <= row["in_scope_accuracy"] <= 1.0
        assert 0.0 <= row["out_of_scope_recall"] <= 1.0
        assert row["latency_ms_p99"] >= row["latency_ms_p50"] > 0
        assert row["model_mb"] >= 0


def test_unknown_model_is_refused() -> None:
    with pytest.raises(SystemExit, match="unknown models"):
        nlu_compare.main(["--models", "bert"])


def test_datetime_rules_resolve_every_phrase_of_the_comparison() -> None:
    result = datetime_compare.score(datetime_compare.rules)
    assert result["misses"] == []
    assert result["total"] == len(datetime_compare.CASES) == 43
