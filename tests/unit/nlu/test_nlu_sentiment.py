"""Sentiment: the shipped model's known answers, training, saving and loading, measuring."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nlu.errors import ModelFormatError, TrainingDataError
from nlu.sentiment import LABELS, SentimentModel, analyse, macro_recall, vader_label
from nlu.sentiment_train import (
    Labelled,
    cross_validate,
    evaluate,
    fit,
    own_examples,
    read_labelled,
)

KNOWN = [
    ("thank you so much, everything works perfectly now!", "positive"),
    ("great job, the vpn is fast again", "positive"),
    ("this is the worst service ever, still broken after a week", "negative"),
    ("I hate this printer, it jams every single time", "negative"),
    ("what is the status of INC-1042?", "neutral"),
    ("please add me to the finance mailbox", "neutral"),
    ("太感谢了，问题解决了，非常满意", "positive"),
    ("服务太好了，点赞", "positive"),
    ("又坏了，气死我了，太差劲了", "negative"),
    ("质量很差，非常失望", "negative"),
    ("请问打印机在几楼", "neutral"),
    ("我的工号是40213", "neutral"),
]


@pytest.mark.parametrize(("text", "label"), KNOWN)
def test_shipped_model_known_answers(text: str, label: str) -> None:
    (result,) = analyse([text])
    assert result.label == label
    assert -1.0 <= result.score <= 1.0
    if label == "positive":
        assert result.score > 0
    if label == "negative":
        assert result.score < 0


def test_empty_and_odd_input_get_a_label() -> None:
    results = analyse(["", "\x00\x01", "🙂" * 50, "x" * 10_000])
    assert [r.label in LABELS for r in results] == [True] * 4
    assert analyse([]) == []


def test_parsing_messages_does_not_load_sentiment() -> None:
    code = (
        "import sys; from nlu.pipeline import build_blank; build_blank();"
        "print(sorted(m for m in ('nlu.sentiment', 'sklearn', 'vaderSentiment') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out.strip().replace("'", '"')) == []


@pytest.fixture(scope="module")
def small_model() -> SentimentModel:
    return fit(own_examples())


def test_training_saving_and_loading_give_the_same_answers(
    small_model: SentimentModel, tmp_path: Path
) -> None:
    path = tmp_path / "sentiment.npz"
    small_model.save(path)
    loaded = SentimentModel.load(path)
    texts = ["thanks, it works", "still broken, awful", "my id is 4021", "谢谢，太好了"]
    before = small_model.predict(texts)
    after = loaded.predict(texts)
    assert [r.label for r in after] == [r.label for r in before]
    for a, b in zip(after, before, strict=True):
        assert a.score == pytest.approx(b.score, abs=0.01)  # weights stored as float16


def test_loading_a_broken_file_is_a_model_format_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(ModelFormatError):
        SentimentModel.load(path)


def test_unknown_training_label_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown sentiment labels"):
        SentimentModel.fit(["a", "b"], ["positive", "happy"])


def test_read_labelled_checks_rows(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"text": "ok", "label": "neutral"}\n\n', encoding="utf-8")
    assert read_labelled(good) == [Labelled("ok", "neutral")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok", "label": "meh"}\n', encoding="utf-8")
    with pytest.raises(TrainingDataError, match="bad.jsonl:1"):
        read_labelled(bad)
    with pytest.raises(TrainingDataError):
        read_labelled(tmp_path / "missing.jsonl")


def test_macro_recall_is_the_mean_of_class_recalls() -> None:
    gold = ["positive", "positive", "negative", "neutral"]
    predicted = ["positive", "neutral", "negative", "positive"]
    mean, per_class = macro_recall(gold, predicted)
    assert per_class == {"negative": 1.0, "neutral": 0.0, "positive": 0.5}
    assert mean == pytest.approx(0.5)


def test_vader_label_cutoffs() -> None:
    assert vader_label("I love it, wonderful!") == "positive"
    assert vader_label("I hate it, terrible.") == "negative"
    assert vader_label("The meeting is at noon.") == "neutral"


def test_evaluation_and_cross_validation_report_fractions(small_model: SentimentModel) -> None:
    rows = [Labelled(t, y) for t, y in KNOWN]
    report = evaluate(small_model, rows)
    assert 0.0 <= report.macro_recall <= 1.0
    assert set(report.per_class) == set(LABELS)
    assert {"macro_recall", "per_class", "vader_macro_recall"} <= report.to_dict().keys()
    cv = cross_validate(rows, folds=2, extra=own_examples())
    assert cv.folds == 2
    assert cv.n == len(rows)
    assert all(0.0 <= v <= 1.0 for v in cv.per_class.values())
    assert sum(sum(row.values()) for row in cv.confusion.values()) == len(rows)
