"""The independent test set: present, covering every intent, and kept apart from training."""

from __future__ import annotations

from nlu.dataset import (
    builtin_test_files,
    builtin_train_files,
    data_files,
    independent_test_files,
    read_examples,
)
from nlu.evaluate import predict_labels
from nlu.pipeline import SpacyUnderstander
from nlu.types import IntentName

INDEPENDENT_FLOOR = 0.6
"""Accuracy on the independent set (threshold applied). It measures far below the held-out
set (see docs/nlu.md); the floor only catches a broken pipeline or data file."""


def test_both_languages_cover_every_intent() -> None:
    files = independent_test_files()
    assert [f.name for f in files] == ["independent_en.txt", "independent_zh.txt"]
    for path in files:
        intents = {e.intent for e in read_examples([path])}
        assert intents == {i.value for i in IntentName}, path.name


def test_never_read_as_training_or_held_out_data() -> None:
    independent = set(independent_test_files())
    assert not independent & set(builtin_train_files())
    assert not independent & set(builtin_test_files())
    assert not independent & set(data_files(None))
    assert not independent & set(data_files(independent_test_files()[0].parent))


def test_accuracy_above_floor(understander: SpacyUnderstander) -> None:
    examples = read_examples(independent_test_files())
    predicted = predict_labels(understander, [e.text for e in examples])
    accuracy = sum(p == e.intent for p, e in zip(predicted, examples, strict=True)) / len(examples)
    assert accuracy >= INDEPENDENT_FLOOR
