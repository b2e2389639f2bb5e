"""Intent models side by side: the numpy ensemble, spaCy's textcat and scikit-learn.

    .venv/bin/python benchmarks/nlu_compare.py [--data clinc-slice|clinc|own ...]
        [--models numpy,spacy-bow,spacy-ensemble,sk-lr,sk-svc] [--per-intent N] [--json]

Every model gets the same messages and the same treatment: trained on the training split, its
out-of-scope threshold chosen by `nlu.calibration.choose_threshold` on the validation split
(CLINC150) or on a held-out fifth of the training data that is then trained on too (our own
data), measured on the test split. Latency is one message at a time through the model alone
(tokenising included, entities excluded: they are the same rules whichever model scores the
intent); throughput is the whole test split in one batch. `--per-intent` caps the CLINC150
training examples per intent so that a run stays within a few minutes on a shared 2-core
machine; `--per-intent 0` trains on all of them.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.calibration import OUT_OF_SCOPE, choose_threshold  # noqa: E402
from nlu.dataset import Example, builtin_test_files, builtin_train_files, read_examples  # noqa: E402
from nlu.evaluate import macro_f1  # noqa: E402

CLINC = ROOT.parent / "shared/nlu/clinc150"
"""Where the full CLINC150 lies beside a checkout (`--clinc DIR` elsewhere)."""
LATENCY_SAMPLE = 500


class Candidate(Protocol):
    """One intent model under test."""

    name: str

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Train on `texts` labelled with their intents."""

    def predict(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Best intent and its score for each text."""

    def save(self, path: Path) -> None:
        """Write the trained model under `path`, so its size on disk can be reported."""


class NumpyModel:
    """The shipped pipeline: `switchboard_intents` (softmax regression + hidden-layer nets)."""

    name = "numpy (shipped)"

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Train the shipped pipeline as `nlu.train` fits it, with seed 0."""
        from nlu.train import fit_pipeline

        self.nlp = fit_pipeline([Example(t, y) for t, y in zip(texts, labels, strict=True)], 0)

    def predict(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Best intent and its score for each text, from the pipeline's `cats`."""
        from nlu.train import top_labels

        return top_labels(self.nlp, texts)

    def save(self, path: Path) -> None:
        """Write the spaCy pipeline under `path`."""
        self.nlp.to_disk(path)


class SpacyTextcat:
    """spaCy's `textcat` (exclusive classes) on our mixed tokenizer, no pretrained vectors."""

    def __init__(self, architecture: str, epochs: int) -> None:
        self.architecture = architecture
        self.epochs = epochs
        self.name = "spaCy " + architecture.split(".")[1]

    def _model_config(self) -> dict[str, Any]:
        if self.architecture.startswith("spacy.TextCatBOW"):
            return {
                "@architectures": self.architecture,
                "exclusive_classes": True,
                "ngram_size": 2,
                "no_output_layer": False,
                "length": 262144,
            }
        return {}  # the default textcat model is the ensemble

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Train `textcat` on a blank pipeline: `epochs` shuffled passes in batches of 64."""
        import spacy
        from spacy.training import Example as SpacyExample
        from spacy.util import fix_random_seed, minibatch  # type: ignore[attr-defined]

        from nlu.tokenizer import TOKENIZER_NAME

        fix_random_seed(0)
        nlp = spacy.blank("en", config={"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_NAME}}})
        config = {"model": self._model_config()} if self._model_config() else {}
        textcat = nlp.add_pipe("textcat", config=config)
        names = sorted(set(labels))
        for label in names:
            textcat.add_label(label)  # type: ignore[attr-defined]
        examples = [
            SpacyExample.from_dict(nlp.make_doc(t), {"cats": {n: float(n == y) for n in names}})
            for t, y in zip(texts, labels, strict=True)
        ]
        optimizer = nlp.initialize(lambda: examples)
        rng = random.Random(0)
        for _ in range(self.epochs):
            rng.shuffle(examples)
            for batch in minibatch(examples, size=64):  # type: ignore[no-untyped-call]
                nlp.update(batch, sgd=optimizer, drop=0.2)
        self.nlp = nlp

    def predict(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Best intent and its score for each text, from the pipeline's `cats`."""
        labels, scores = [], []
        for doc in self.nlp.pipe(texts, batch_size=256):
            label, score = max(doc.cats.items(), key=lambda kv: kv[1])
            labels.append(label)
            scores.append(float(score))
        return labels, scores

    def save(self, path: Path) -> None:
        """Write the spaCy pipeline under `path`."""
        self.nlp.to_disk(path)


class SklearnModel:
    """TF-IDF word 1-2-grams + character 2-5-grams, then a linear classifier."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = {"lr": "sklearn TF-IDF + LogReg", "svc": "sklearn TF-IDF + LinearSVC cal."}[
            kind
        ]

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Fit the TF-IDF features and the classifier (the SVC calibrated on 3 folds for scores)."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        features = make_union(
            TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b"),
            TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2),
        )
        classifier: Any
        if self.kind == "lr":
            classifier = LogisticRegression(C=20.0, max_iter=300)
        else:
            classifier = CalibratedClassifierCV(LinearSVC(C=0.5), cv=3)
        self.model = make_pipeline(features, classifier)
        self.model.fit(list(texts), list(labels))

    def predict(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """Most probable intent and its probability for each text."""
        proba = self.model.predict_proba(list(texts))
        classes = self.model.classes_
        best = proba.argmax(axis=1)
        return [str(classes[i]) for i in best], proba.max(axis=1).tolist()

    def save(self, path: Path) -> None:
        """Dump the fitted scikit-learn pipeline to `model.joblib` under `path`, compressed."""
        import joblib  # type: ignore[import-untyped]

        path.mkdir(parents=True, exist_ok=True)
        joblib.dump(self.model, path / "model.joblib", compress=3)


FACTORIES: dict[str, Callable[[], Candidate]] = {
    "numpy": NumpyModel,
    "spacy-bow": lambda: SpacyTextcat("spacy.TextCatBOW.v3", epochs=10),
    "spacy-ensemble": lambda: SpacyTextcat("spacy.TextCatEnsemble.v2", epochs=4),
    "sk-lr": lambda: SklearnModel("lr"),
    "sk-svc": lambda: SklearnModel("svc"),
}


@dataclass(frozen=True, slots=True)
class Row:
    """The figures of one model on one data set."""

    data: str
    model: str
    in_scope_accuracy: float
    out_of_scope_recall: float | None
    macro_f1: float
    threshold: float
    train_seconds: float
    latency_ms_p50: float
    latency_ms_p99: float
    per_second: float
    model_mb: float


@dataclass(frozen=True, slots=True)
class Split:
    """A data set's name and its training, validation (may be empty) and test messages."""

    name: str
    train: list[Example]
    valid: list[Example]
    test: list[Example]


def _cap(examples: list[Example], per_intent: int) -> list[Example]:
    if per_intent <= 0:
        return examples
    seen: dict[str, int] = {}
    out = []
    for e in examples:
        seen[e.intent] = seen.get(e.intent, 0) + 1
        if seen[e.intent] <= per_intent:
            out.append(e)
    return out


def load_split(name: str, per_intent: int, clinc: Path = CLINC) -> Split:
    """The train, validation and test messages of a named data set."""
    if name == "clinc":
        return Split(
            f"CLINC150 ({per_intent or 'all'}/intent)",
            _cap(read_examples([clinc / "train.jsonl"]), per_intent),
            read_examples([clinc / "valid.jsonl"]),
            read_examples([clinc / "test.jsonl"]),
        )
    if name == "clinc-slice":
        folder = ROOT / "tests/data/nlu/clinc150"
        return Split(
            "CLINC150 slice", read_examples([folder / "train.jsonl"]), [],
            read_examples([folder / "test.jsonl"]),
        )  # fmt: skip
    if name == "own":
        return Split(
            "own data", read_examples(builtin_train_files()), [],
            read_examples(builtin_test_files()),
        )  # fmt: skip
    raise SystemExit(f"unknown data set {name!r}")


def _holdout(examples: list[Example]) -> tuple[list[Example], list[Example]]:
    """Every fifth message of each intent held out, for the threshold."""
    seen: dict[str, int] = {}
    kept: list[Example] = []
    held: list[Example] = []
    for e in examples:
        seen[e.intent] = seen.get(e.intent, 0) + 1
        (held if seen[e.intent] % 5 == 0 else kept).append(e)
    return kept, held


def _threshold(factory: Callable[[], Candidate], split: Split, model: Candidate) -> float:
    n_labels = len({e.intent for e in split.train})
    if split.valid:
        valid = split.valid
        predicted, scores = model.predict([e.text for e in valid])
    else:
        kept, valid = _holdout(split.train)
        probe = factory()
        probe.fit([e.text for e in kept], [e.intent for e in kept])
        predicted, scores = probe.predict([e.text for e in valid])
    return choose_threshold(scores, predicted, [e.intent for e in valid], n_labels=n_labels)


def measure(factory: Callable[[], Candidate], split: Split) -> Row:
    """Train, calibrate and measure one model on one data set."""
    model = factory()
    start = time.perf_counter()
    model.fit([e.text for e in split.train], [e.intent for e in split.train])
    train_seconds = time.perf_counter() - start
    threshold = _threshold(factory, split, model)
    texts = [e.text for e in split.test]
    gold = [e.intent for e in split.test]
    start = time.perf_counter()
    labels, scores = model.predict(texts)
    per_second = len(texts) / (time.perf_counter() - start)
    predicted = [OUT_OF_SCOPE if s < threshold else y for y, s in zip(labels, scores, strict=True)]
    sample = (texts * (LATENCY_SAMPLE // len(texts) + 1))[:LATENCY_SAMPLE]
    for text in sample[:50]:
        model.predict([text])
    timings = []
    for text in sample:
        start = time.perf_counter()
        model.predict([text])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != OUT_OF_SCOPE]
    oos = [p for g, p in zip(gold, predicted, strict=True) if g == OUT_OF_SCOPE]
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "model")
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    return Row(
        data=split.name,
        model=model.name,
        in_scope_accuracy=round(sum(g == p for g, p in in_scope) / max(1, len(in_scope)), 4),
        out_of_scope_recall=(
            round(sum(p == OUT_OF_SCOPE for p in oos) / len(oos), 4) if oos else None
        ),
        macro_f1=round(macro_f1(gold, predicted), 4),
        threshold=threshold,
        train_seconds=round(train_seconds, 1),
        latency_ms_p50=round(statistics.median(timings), 3),
        latency_ms_p99=round(float(np.percentile(timings, 99)), 3),
        per_second=round(per_second),
        model_mb=round(size / 1e6, 1),
    )


def render(rows: Sequence[Row]) -> Table:
    """The comparison as a rich table."""
    table = Table(title="Intent models")
    for column in (
        "data", "model", "in-scope acc", "OOS recall", "macro F1", "threshold", "train s",
        "p50 ms", "p99 ms", "msg/s", "MB",
    ):  # fmt: skip
        table.add_column(column)
    for r in rows:
        oos = "n/a" if r.out_of_scope_recall is None else f"{r.out_of_scope_recall:.1%}"
        table.add_row(
            r.data, r.model, f"{r.in_scope_accuracy:.1%}", oos, f"{r.macro_f1:.3f}",
            f"{r.threshold:.2f}", f"{r.train_seconds:.1f}", f"{r.latency_ms_p50:.2f}",
            f"{r.latency_ms_p99:.2f}", f"{r.per_second:,.0f}", f"{r.model_mb:.1f}",
        )  # fmt: skip
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Compare the chosen models on the chosen data sets: a table, or JSON rows as they finish."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["clinc-slice", "own"])
    parser.add_argument("--models", default="numpy,spacy-bow,sk-lr,sk-svc")
    parser.add_argument("--per-intent", type=int, default=30)
    parser.add_argument("--clinc", type=Path, default=CLINC, help="the full CLINC150 folder")
    parser.add_argument("--json", action="store_true", help="one JSON object per row")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in FACTORIES]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {sorted(FACTORIES)}")
    splits = [load_split(d, args.per_intent, args.clinc) for d in args.data]
    rows: list[Row] = []
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("comparing", total=len(splits) * len(names))
        for split in splits:
            for name in names:
                bar.update(task, description=f"{split.name}: {name}")
                rows.append(measure(FACTORIES[name], split))
                bar.advance(task)
                if args.json:
                    print(json.dumps(asdict(rows[-1])), flush=True)
    if not args.json:
        Console().print(render(rows))


if __name__ == "__main__":
    main()
