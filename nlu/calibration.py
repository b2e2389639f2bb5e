"""Choosing the confidence threshold below which a message counts as out of scope."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

OUT_OF_SCOPE = "out_of_scope"
OOS_SHARE = 0.1
"""Assumed share of out-of-scope messages in real traffic (one in ten).

The threshold maximises accuracy on a validation mix with this share, whatever the share in
the validation data itself: in-scope accuracy + OOS_WEIGHT × out-of-scope recall.
"""
OOS_WEIGHT = OOS_SHARE / (1 - OOS_SHARE)
FLOOR_FACTOR = 2.0
"""The threshold is never below twice the uniform share (2 / number of labels): a top score
under it means the model barely prefers its answer, whatever the validation data says."""
NO_OOS_QUANTILE = 0.02
"""Without out-of-scope examples to tune on, doubt the least confident 2 % of correct answers."""


def choose_threshold(
    confidence: Sequence[float],
    predicted: Sequence[str],
    gold: Sequence[str],
    *,
    n_labels: int | None = None,
) -> float:
    """The threshold that maximises in-scope accuracy + `OOS_WEIGHT` × out-of-scope recall.

    A prediction counts as out of scope when its label is `out_of_scope` or its confidence is
    below the threshold. Ties go to the lower threshold; the result is at least the floor
    (`FLOOR_FACTOR` / `n_labels`, by default the number of labels seen in `predicted` and
    `gold`).
    """
    if n_labels is None:
        n_labels = len(set(predicted) | set(gold))
    floor = min(0.5, FLOOR_FACTOR / n_labels) if n_labels else 0.0
    return round(max(floor, _best_threshold(confidence, predicted, gold)), 4)


def _best_threshold(
    confidence: Sequence[float], predicted: Sequence[str], gold: Sequence[str]
) -> float:
    # numpy loads only to calibrate: the bot itself reads `acting_thresholds` alone.
    import numpy as np

    conf = np.asarray(confidence, dtype=np.float64)
    pred = np.asarray(predicted, dtype=object)
    gold_arr = np.asarray(gold, dtype=object)
    in_scope = gold_arr != OUT_OF_SCOPE
    if not in_scope.any():
        return 0.0
    correct = (pred == gold_arr) & in_scope
    if in_scope.all():
        if not correct.any():
            return 0.0
        return float(np.quantile(conf[correct], NO_OOS_QUANTILE))
    said_oos = pred == OUT_OF_SCOPE
    best, best_score = 0.0, -1.0
    for threshold in np.round(np.arange(0.0, 1.0, 0.01), 2):
        below = conf < threshold
        accuracy = (correct & ~below).sum() / in_scope.sum()
        recall = ((said_oos | below) & ~in_scope).sum() / (~in_scope).sum()
        score = accuracy + OOS_WEIGHT * recall
        if score > best_score + 1e-12:
            best, best_score = float(threshold), float(score)
    return best


PRECISION = 0.98
"""Share of readings at or above an intent's acting threshold that must be right."""


def intent_thresholds(
    confidence: Sequence[float],
    predicted: Sequence[str],
    gold: Sequence[str],
    intents: Sequence[str],
    *,
    precision: float = PRECISION,
) -> dict[str, float]:
    """Per intent, the lowest confidence above which its readings are right often enough.

    For each intent, over the messages read as that intent, the lowest threshold (on a 0.01
    grid) such that at it and at every higher threshold the share of right readings at or
    above it is at least `precision`; 1.0 when even the top readings miss it. Computed on
    predictions for messages the model did not train on.
    """
    import numpy as np

    conf = np.asarray(confidence, dtype=np.float64)
    pred = np.asarray(predicted, dtype=object)
    gold_arr = np.asarray(gold, dtype=object)
    out: dict[str, float] = {}
    for intent in intents:
        said = pred == intent
        right = said & (gold_arr == intent)
        chosen = 1.0
        for threshold in np.round(np.arange(0.99, -0.005, -0.01), 2):
            above = said & (conf >= threshold)
            if not above.any():
                continue
            if (right & above).sum() / above.sum() < precision:
                break
            chosen = abs(float(threshold))
        out[intent] = chosen
    return out


def coverage(
    confidence: Sequence[float],
    predicted: Sequence[str],
    gold: Sequence[str],
    intent: str,
    at: float,
) -> tuple[int, int, int]:
    """(right readings at or above `at`, all right readings, wrong readings at or above `at`)."""
    import numpy as np

    conf = np.asarray(confidence, dtype=np.float64)
    pred = np.asarray(predicted, dtype=object)
    gold_arr = np.asarray(gold, dtype=object)
    said = pred == intent
    right = said & (gold_arr == intent)
    above = conf >= at
    return int((right & above).sum()), int(right.sum()), int((said & ~right & above).sum())


ACTING_FILE = Path(__file__).resolve().parent / "data" / "acting_thresholds.json"
"""Per-intent thresholds last fitted by `benchmarks/nlu_thresholds.py --write`."""


def write_acting_thresholds(
    thresholds: Mapping[str, float], *, precision: float, path: Path = ACTING_FILE
) -> None:
    """Store fitted per-intent thresholds for `acting_thresholds` to read."""
    body = {"precision": precision, "thresholds": {k: round(v, 4) for k, v in thresholds.items()}}
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")


@cache
def acting_thresholds(path: Path = ACTING_FILE) -> dict[str, float]:
    """The stored per-intent thresholds; empty when the file is missing or unreadable.

    Callers treat a missing intent as "not calibrated" and use their own ceiling.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        values = raw["thresholds"]
        return {str(k): float(v) for k, v in values.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
