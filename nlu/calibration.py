"""Choosing the confidence threshold below which a message counts as out of scope."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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
