"""Measuring a model: accuracy, out-of-scope recall, macro F1, confusions, speed and size."""

from __future__ import annotations

import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nlu.calibration import OUT_OF_SCOPE
from nlu.dataset import (
    Example,
    builtin_test_files,
    builtin_train_files,
    read_examples,
)
from nlu.language import detect_language
from nlu.pipeline import SpacyUnderstander, load
from nlu.text import sanitize
from nlu.train import stratified_folds, train_model

Progress = Callable[[int, int], None]
LATENCY_SAMPLE = 1000
"""Messages timed one by one for the latency percentiles."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvaluationReport:
    """Figures of one train/test evaluation. Accuracies and recalls are fractions 0-1."""

    n_train: int
    n_test: int
    n_intents: int
    in_scope_accuracy: float
    out_of_scope_recall: float | None
    macro_f1: float
    accuracy: float
    threshold: float
    accuracy_by_language: dict[str, float]
    confused_pairs: list[tuple[str, str, int]]
    train_seconds: float
    latency_ms_p50: float
    latency_ms_p99: float
    throughput_per_second: float
    model_bytes: int
    version: str = ""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (confused pairs as objects)."""
        data = asdict(self)
        data["confused_pairs"] = [
            {"gold": g, "predicted": p, "count": n} for g, p, n in self.confused_pairs
        ]
        return data

    def render(self) -> str:
        """A readable report."""
        oos = (
            "n/a (no out_of_scope examples in the test data)"
            if self.out_of_scope_recall is None
            else f"{self.out_of_scope_recall:.1%}"
        )
        lines = [
            f"trained on {self.n_train} examples ({self.n_intents} intents) "
            f"in {self.train_seconds:.1f} s; tested on {self.n_test}",
            f"in-scope accuracy     {self.in_scope_accuracy:.1%}",
            f"out-of-scope recall   {oos}",
            f"macro F1              {self.macro_f1:.3f}",
            f"overall accuracy      {self.accuracy:.1%}",
            f"threshold             {self.threshold:.2f}",
        ]
        for language, acc in sorted(self.accuracy_by_language.items()):
            lines.append(f"accuracy ({language})       {acc:.1%}")
        lines += [
            f"latency p50 / p99     {self.latency_ms_p50:.2f} / {self.latency_ms_p99:.2f} ms",
            f"batched throughput    {self.throughput_per_second:,.0f} messages/s",
            f"model size            {self.model_bytes / 1e6:.1f} MB",
        ]
        if self.confused_pairs:
            lines.append("most confused (gold -> predicted: count)")
            lines += [f"  {g} -> {p}: {n}" for g, p, n in self.confused_pairs]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True, kw_only=True)
class CrossValidationReport:
    """K-fold cross-validated accuracy, overall and per language (fractions 0-1)."""

    folds: int
    n_examples: int
    accuracy: float
    accuracy_by_language: dict[str, float]
    n_by_language: dict[str, int]
    confused_pairs: list[tuple[str, str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict (confused pairs as objects)."""
        data = asdict(self)
        data["confused_pairs"] = [
            {"gold": g, "predicted": p, "count": n} for g, p, n in self.confused_pairs
        ]
        return data

    def render(self) -> str:
        """A readable report."""
        lines = [
            f"{self.folds}-fold cross-validation on {self.n_examples} examples",
            f"accuracy              {self.accuracy:.1%}",
        ]
        for language, acc in sorted(self.accuracy_by_language.items()):
            lines.append(
                f"accuracy ({language})       {acc:.1%}  ({self.n_by_language[language]} examples)"
            )
        if self.confused_pairs:
            lines.append("most confused (gold -> predicted: count)")
            lines += [f"  {g} -> {p}: {n}" for g, p, n in self.confused_pairs]
        return "\n".join(lines)


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over the gold labels."""
    labels = sorted(set(gold))
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            tp[g] += 1
        else:
            fp[p] += 1
            fn[g] += 1
    scores = []
    for label in labels:
        denominator = 2 * tp[label] + fp[label] + fn[label]
        scores.append(2 * tp[label] / denominator if denominator else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def confused_pairs(
    gold: Sequence[str], predicted: Sequence[str], top: int = 10
) -> list[tuple[str, str, int]]:
    """The most frequent (gold, predicted) mistakes."""
    counts = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    return [(g, p, n) for (g, p), n in counts.most_common(top)]


def predict_labels(understander: SpacyUnderstander, texts: Sequence[str]) -> list[str]:
    """Labels with the threshold applied: `out_of_scope` below it."""
    threshold = understander.threshold
    return [
        OUT_OF_SCOPE if score < threshold else label
        for label, score in understander.classify(texts)
    ]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def measure_speed(
    understander: SpacyUnderstander, texts: Sequence[str]
) -> tuple[float, float, float]:
    """(p50 ms, p99 ms, batched messages/s) of the full parse: intent and entities."""
    nlp = understander.nlp
    # Cycled up to LATENCY_SAMPLE timings, so a small test set still gives a stable p99.
    clean = [sanitize(t) for t in texts[:LATENCY_SAMPLE]] or ["hello"]
    sample = (clean * (LATENCY_SAMPLE // len(clean) + 1))[:LATENCY_SAMPLE]
    for text in sample[:50]:
        understander.analyse([nlp(text)], texts=[text])
    timings = []
    for text in sample:
        start = time.perf_counter()
        understander.analyse([nlp(text)], texts=[text])
        timings.append((time.perf_counter() - start) * 1000)
    batch = [sanitize(t) for t in texts] or sample
    start = time.perf_counter()
    understander.analyse(list(nlp.pipe(batch, batch_size=256)), texts=batch)
    elapsed = time.perf_counter() - start
    return (
        statistics.median(timings),
        _percentile(timings, 0.99),
        len(batch) / elapsed if elapsed > 0 else 0.0,
    )


def _accuracy_by_language(
    texts: Sequence[str], gold: Sequence[str], predicted: Sequence[str]
) -> dict[str, float]:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for text, g, p in zip(texts, gold, predicted, strict=True):
        language = detect_language(text)
        totals[language] += 1
        hits[language] += g == p
    return {lang: hits[lang] / totals[lang] for lang in totals}


def evaluate(
    train_file: Path | None,
    test_file: Path | None,
    *,
    progress: Progress | None = None,
    seed: int = 0,
) -> EvaluationReport:
    """Train a fresh model on `train_file` and measure it on `test_file`.

    Either may be None for Switchboard's own data (our training files, our held-out test
    files). The threshold is tuned on `valid.jsonl` beside the training file when present,
    else on cross-validated predictions of the training data.
    """
    train_examples = read_examples([train_file] if train_file else builtin_train_files())
    test_examples: list[Example] = read_examples([test_file] if test_file else builtin_test_files())
    valid = train_file.parent / "valid.jsonl" if train_file else None
    if valid is not None and (not valid.is_file() or valid.resolve() == train_file.resolve()):  # type: ignore[union-attr]
        valid = None
    with tempfile.TemporaryDirectory(prefix="switchboard-nlu-eval-") as tmp:
        start = time.perf_counter()
        model_dir = train_model(
            Path(tmp), data=train_file, seed=seed, progress=progress, valid=valid
        )
        train_seconds = time.perf_counter() - start
        understander = load(model_dir)
        model_bytes = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
        texts = [e.text for e in test_examples]
        gold = [e.intent for e in test_examples]
        predicted = predict_labels(understander, texts)
        p50, p99, throughput = measure_speed(understander, texts)
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OUT_OF_SCOPE]
    oos = [p for g, p in zip(gold, predicted, strict=True) if g == OUT_OF_SCOPE]
    return EvaluationReport(
        n_train=len(train_examples),
        n_test=len(test_examples),
        n_intents=len({e.intent for e in train_examples} - {OUT_OF_SCOPE}),
        in_scope_accuracy=sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else 0.0,
        out_of_scope_recall=sum(p == OUT_OF_SCOPE for p in oos) / len(oos) if oos else None,
        macro_f1=macro_f1(gold, predicted),
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(1, len(gold)),
        threshold=understander.threshold,
        accuracy_by_language=_accuracy_by_language(texts, gold, predicted),
        confused_pairs=confused_pairs(gold, predicted),
        train_seconds=round(train_seconds, 3),
        latency_ms_p50=round(p50, 4),
        latency_ms_p99=round(p99, 4),
        throughput_per_second=round(throughput, 1),
        model_bytes=model_bytes,
        version=understander.version,
    )


def cross_validate(
    data: Path | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    progress: Progress | None = None,
) -> CrossValidationReport:
    """Stratified K-fold accuracy (threshold applied) of a data set, overall and per language."""
    examples = read_examples([data] if data else builtin_train_files())
    gold = [e.intent for e in examples]
    fold = stratified_folds(gold, folds, seed)
    predicted = [""] * len(examples)
    for k in range(folds):
        held = [i for i, f in enumerate(fold) if f == k]
        kept = [examples[i] for i, f in enumerate(fold) if f != k]
        with tempfile.TemporaryDirectory(prefix="switchboard-nlu-cv-") as tmp:
            kept_file = Path(tmp) / "train.jsonl"
            _write_jsonl(kept_file, kept)
            model_dir = train_model(Path(tmp) / "model", data=kept_file, seed=seed)
            understander = load(model_dir)
            for i, label in zip(
                held, predict_labels(understander, [examples[i].text for i in held]), strict=True
            ):
                predicted[i] = label
        if progress is not None:
            progress(k + 1, folds)
    texts = [e.text for e in examples]
    by_lang = _accuracy_by_language(texts, gold, predicted)
    return CrossValidationReport(
        folds=folds,
        n_examples=len(examples),
        accuracy=sum(g == p for g, p in zip(gold, predicted, strict=True)) / max(1, len(gold)),
        accuracy_by_language=by_lang,
        n_by_language=dict(Counter(detect_language(t) for t in texts)),
        confused_pairs=confused_pairs(gold, predicted),
    )


def _write_jsonl(path: Path, examples: Sequence[Example]) -> None:
    import json

    path.write_text(
        "".join(
            json.dumps({"text": e.text, "intent": e.intent}, ensure_ascii=False) + "\n"
            for e in examples
        ),
        encoding="utf-8",
    )
