"""`switchboard nlu` train / parse / evaluate through Typer's CliRunner."""

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli_nlu import app

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-model") / "nlu"
    result = runner.invoke(app, ["train", "--model-dir", str(root), "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "model written to" in result.output
    assert (root / "current").is_file()
    return root


def test_parse_json_shape(model_dir: Path) -> None:
    result = runner.invoke(
        app, ["parse", "--model-dir", str(model_dir), "--json", "approve CHG-2031", "hi"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert {"intent", "confidence", "entities", "language"} <= row.keys()
        assert 0.0 <= row["confidence"] <= 1.0
    assert rows[0]["intent"] == "approve"
    assert rows[0]["entities"][0] == {
        "entity": "ticket_ref",
        "value": "CHG-2031",
        "start": 8,
        "end": 16,
        "text": "CHG-2031",
    }


def test_parse_reads_stdin_with_dash(model_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["parse", "--model-dir", str(model_dir), "-", "--json"],
        input="my laptop will not start\nwhat is the status of INC-12\n批准 CHG-2031\n",
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 3
    assert any(e["entity"] == "ticket_ref" for e in rows[1]["entities"])
    assert rows[2]["language"] == "zh"


def test_parse_table_without_json(model_dir: Path) -> None:
    result = runner.invoke(app, ["parse", "--model-dir", str(model_dir), "reset my password"])
    assert result.exit_code == 0, result.output
    assert "request_service" in result.stdout
    assert "catalog_item" in result.stdout


def test_parse_trains_a_missing_model_with_a_notice(tmp_path: Path) -> None:
    root = tmp_path / "models"
    result = runner.invoke(app, ["parse", "--model-dir", str(root), "--json", "hello"])
    assert result.exit_code == 0, result.output
    assert "training one first" in result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["intent"] == "greet"
    assert (root / "current").is_file()


def test_model_dir_from_environment(model_dir: Path) -> None:
    result = runner.invoke(
        app, ["parse", "--json", "thanks"], env={"NLU_MODEL_PATH": str(model_dir)}
    )
    assert result.exit_code == 0, result.output
    assert "training" not in result.stderr
    assert json.loads(result.stdout)["intent"] == "thanks"


SLICE = Path(__file__).resolve().parents[1] / "data" / "nlu" / "clinc150"


def _slice(split: str, per_intent: int, out: Path) -> Path:
    """The first `per_intent` examples of each label in the shipped CLINC150 slice."""
    seen: Counter[str] = Counter()
    lines = []
    for line in (SLICE / f"{split}.jsonl").read_text().splitlines():
        intent = json.loads(line)["intent"]
        if seen[intent] < per_intent:
            seen[intent] += 1
            lines.append(line + "\n")
    path = out / f"{split}.jsonl"
    path.write_text("".join(lines))
    return path


def test_evaluate_json_on_a_clinc_slice(tmp_path: Path) -> None:
    train = _slice("train", 20, tmp_path)
    test = _slice("test", 5, tmp_path)
    result = runner.invoke(app, ["evaluate", "--train", str(train), "--test", str(test), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("in_scope_accuracy", "out_of_scope_recall", "macro_f1"):
        assert 0.0 <= report[key] <= 1.0
    for key in ("train_seconds", "latency_ms_p50", "latency_ms_p99"):
        assert report[key] > 0
    assert report["n_test"] == 30
    assert report["in_scope_accuracy"] > 0.5


def test_evaluate_readable_report(tmp_path: Path) -> None:
    train = _slice("train", 10, tmp_path)
    test = _slice("test", 5, tmp_path)
    result = runner.invoke(app, ["evaluate", "--train", str(train), "--test", str(test)])
    assert result.exit_code == 0, result.output
    assert "in-scope accuracy" in result.stdout
    assert "out-of-scope recall" in result.stdout
    assert "most confused" in result.stdout


def test_evaluate_cross_validation_per_language(tmp_path: Path) -> None:
    rows = [
        ("hello", "greet"), ("hi there", "greet"), ("good morning", "greet"), ("你好", "greet"),
        ("早上好", "greet"), ("嗨", "greet"), ("thanks a lot", "thanks"), ("thank you", "thanks"),
        ("cheers, thanks", "thanks"), ("谢谢", "thanks"), ("多谢", "thanks"), ("谢谢你", "thanks"),
    ]  # fmt: skip
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "intent": i}) + "\n" for t, i in rows))
    result = runner.invoke(app, ["evaluate", "--train", str(data), "--folds", "3", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["folds"] == 3
    assert report["n_by_language"] == {"en": 6, "zh": 6}
    assert set(report["accuracy_by_language"]) == {"en", "zh"}
    assert all(0.0 <= v <= 1.0 for v in report["accuracy_by_language"].values())


def test_errors_are_reported_not_raised(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = runner.invoke(app, ["evaluate", "--train", str(missing), "--test", str(missing)])
    assert result.exit_code == 1
    assert "error:" in result.stderr


def test_sentiment_json_shape() -> None:
    result = runner.invoke(
        app, ["sentiment", "--json", "thanks, it works perfectly now!", "又坏了，气死我了"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(row) for row in rows] == [{"text", "label", "score"}] * 2
    assert [row["label"] for row in rows] == ["positive", "negative"]
    assert rows[0]["text"] == "thanks, it works perfectly now!"


def test_sentiment_reads_stdin_and_prints_a_table() -> None:
    result = runner.invoke(app, ["sentiment", "-"], input="awful, still broken\n")
    assert result.exit_code == 0, result.output
    assert "negative" in result.stdout


def test_sentiment_evaluate_prints_fractions(tmp_path: Path) -> None:
    data = tmp_path / "rated.jsonl"
    rows = [
        {"text": "thank you, great work", "label": "positive"},
        {"text": "terrible, nothing works", "label": "negative"},
        {"text": "my desk is on floor 3", "label": "neutral"},
        {"text": "谢谢，太好了", "label": "positive"},
    ]
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    result = runner.invoke(app, ["sentiment", "--evaluate", str(data), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.splitlines()[-1])
    assert 0.0 <= report["macro_recall"] <= 1.0
    assert set(report["per_class"]) == {"negative", "neutral", "positive"}
    assert all(0.0 <= v <= 1.0 for v in report["per_class"].values())
    text = runner.invoke(app, ["sentiment", "--evaluate", str(data)])
    assert text.exit_code == 0, text.output
    assert "macro recall" in text.stdout


def test_sentiment_needs_texts_or_a_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sentiment"])
    assert result.exit_code == 1
    assert "either texts or --evaluate" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "label": "great"}\n', encoding="utf-8")
    result = runner.invoke(app, ["sentiment", "--evaluate", str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:1" in result.stderr
