"""Per-intent acting thresholds from predictions on messages the model did not train on."""

from __future__ import annotations

from pathlib import Path

from nlu.calibration import (
    acting_thresholds,
    coverage,
    intent_thresholds,
    write_acting_thresholds,
)


def test_threshold_sits_above_the_most_confident_wrong_reading() -> None:
    confidence = [0.95, 0.9, 0.7, 0.6, 0.5, 0.4]
    predicted = ["resolve_ticket"] * 6
    gold = ["resolve_ticket", "resolve_ticket", "thanks", "resolve_ticket", "thanks", "thanks"]
    assert intent_thresholds(confidence, predicted, gold, ["resolve_ticket"], precision=1.0) == {
        "resolve_ticket": 0.71
    }


def test_lower_precision_lets_a_wrong_reading_through_but_not_a_run_of_them() -> None:
    confidence = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5]
    predicted = ["approve"] * 7
    gold = ["approve", "approve", "approve", "approve", "reject", "reject", "reject"]
    [threshold] = intent_thresholds(
        confidence, predicted, gold, ["approve"], precision=0.8
    ).values()
    assert threshold == 0.61
    assert coverage(confidence, predicted, gold, "approve", threshold) == (4, 4, 1)


def test_an_intent_never_predicted_is_never_acted_on_without_asking() -> None:
    assert intent_thresholds([0.9], ["greet"], ["greet"], ["cancel"]) == {"cancel": 1.0}


def test_an_intent_wrong_at_the_top_gets_the_ceiling() -> None:
    assert intent_thresholds([0.99, 0.5], ["deny", "deny"], ["reject", "deny"], ["deny"]) == {
        "deny": 1.0
    }


def test_stored_thresholds_read_back(tmp_path: Path) -> None:
    path = tmp_path / "acting.json"
    write_acting_thresholds({"approve": 0.731234, "deny": 0.5}, precision=0.98, path=path)
    assert acting_thresholds(path) == {"approve": 0.7312, "deny": 0.5}


def test_missing_or_broken_stored_thresholds_read_as_none(tmp_path: Path) -> None:
    assert acting_thresholds(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text('{"thresholds": [1, 2]}', encoding="utf-8")
    assert acting_thresholds(broken) == {}
