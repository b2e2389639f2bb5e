"""Training: `train_model` writes a new model version; `ensure_model` trains only when needed."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from spacy.util import fix_random_seed

from nlu import pipeline
from nlu.calibration import choose_threshold
from nlu.classifier import TrainConfig
from nlu.component import COMPONENT_NAME, IntentClassifier
from nlu.dataset import Example, data_files, data_hash, read_examples, read_jsonl
from nlu.errors import ModelNotFoundError, NLUError, TrainingDataError
from nlu.text import sanitize

Progress = Callable[[int, int], None]

MODEL_FORMAT = "1"
"""Bumped whenever features or training change, so `ensure_model` retrains old models."""
CV_FOLDS = 5
LARGE_DATA = 5000
"""Above this many examples a single 10 % split calibrates the threshold instead of 5 folds."""


def _fit(
    examples: Sequence[Example], seed: int, progress: Progress | None = None
) -> tuple[object, IntentClassifier]:
    fix_random_seed(seed)
    nlp = pipeline.build_blank()
    docs = [nlp.make_doc(sanitize(e.text)) for e in examples]
    classifier = nlp.get_pipe(COMPONENT_NAME)
    assert isinstance(classifier, IntentClassifier)
    classifier.fit(docs, [e.intent for e in examples], config=TrainConfig(seed=seed),
                   progress=progress)
    return nlp, classifier


def _predict(nlp: object, texts: Sequence[str]) -> tuple[list[str], list[float]]:
    from spacy.language import Language

    assert isinstance(nlp, Language)
    labels: list[str] = []
    conf: list[float] = []
    for doc in nlp.pipe([sanitize(t) for t in texts], batch_size=256):
        label, score = max(doc.cats.items(), key=lambda kv: kv[1])
        labels.append(label)
        conf.append(score)
    return labels, conf


def _folds(labels: Sequence[str], k: int, seed: int) -> list[int]:
    """Stratified fold number of each example."""
    rng = np.random.default_rng(seed)
    fold = [0] * len(labels)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    offset = 0
    for label in sorted(by_label):
        members = by_label[label]
        for j, i in enumerate(rng.permutation(members)):
            fold[int(i)] = (offset + j) % k
        offset += len(members)
    return fold


class _Steps:
    """Turns per-fit epoch callbacks into one overall (done, total) progress."""

    def __init__(self, progress: Progress | None, fits: int) -> None:
        self.progress = progress
        self.epochs = TrainConfig().epochs
        self.total = fits * self.epochs
        self.done = 0

    def fit_callback(self) -> Progress | None:
        if self.progress is None:
            return None
        base = self.done
        self.done += self.epochs

        def report(epoch: int, _epochs: int) -> None:
            assert self.progress is not None
            self.progress(base + epoch, self.total)

        return report


def calibrate_threshold(
    train: Sequence[Example],
    valid: Sequence[Example] | None,
    *,
    seed: int,
    steps: _Steps,
) -> tuple[float, tuple[object, IntentClassifier] | None]:
    """Threshold from held-out predictions; returns the model trained on `train` when it is
    the final one (a separate validation set was given)."""
    if valid:
        fitted = _fit(train, seed, steps.fit_callback())
        labels, conf = _predict(fitted[0], [e.text for e in valid])
        return choose_threshold(conf, labels, [e.intent for e in valid]), fitted
    gold = [e.intent for e in train]
    if len(train) > LARGE_DATA:
        fold = [0 if f == 0 else 1 for f in _folds(gold, 10, seed)]
        k_used = 1
    else:
        fold = _folds(gold, CV_FOLDS, seed)
        k_used = CV_FOLDS
    pred: list[str] = [""] * len(train)
    conf: list[float] = [0.0] * len(train)
    for k in range(k_used):
        held = [i for i, f in enumerate(fold) if f == k]
        kept = [train[i] for i, f in enumerate(fold) if f != k]
        if not held or len({e.intent for e in kept}) < 2:
            continue
        nlp, _ = _fit(kept, seed, steps.fit_callback())
        labels, scores = _predict(nlp, [train[i].text for i in held])
        for i, label, score in zip(held, labels, scores, strict=True):
            pred[i], conf[i] = label, score
    scored = [i for i, p in enumerate(pred) if p]
    if not scored:
        return 0.0, None
    return (
        choose_threshold([conf[i] for i in scored], [pred[i] for i in scored],
                         [gold[i] for i in scored]),
        None,
    )


def _check(examples: Sequence[Example], source: object) -> None:
    if len({e.intent for e in examples}) < 2:
        raise TrainingDataError(f"{source}: need examples of at least two intents")


def train_model(
    out_root: Path,
    *,
    data: Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    valid: Path | None = None,
) -> Path:
    """Train a model and make it the current version under `out_root`.

    Args:
        out_root: model root; the model goes to `out_root/<version>/` and `out_root/current`
            names it.
        data: a JSON Lines file, a directory of `train*.jsonl`, or None for our own data.
        seed: random seed; the same data and seed give the same model.
        progress: called with (steps done, total steps) while training.
        valid: JSON Lines to tune the threshold on; without it, cross-validated predictions
            on the training data are used.

    Returns:
        The new version directory.
    """
    files = data_files(data)
    examples = read_examples(files)
    _check(examples, files[0])
    valid_examples = read_jsonl(valid) if valid else None
    fits = 1 if valid_examples else (2 if len(examples) > LARGE_DATA else CV_FOLDS + 1)
    steps = _Steps(progress, fits)
    started = time.perf_counter()
    threshold, fitted = calibrate_threshold(examples, valid_examples, seed=seed, steps=steps)
    if fitted is None:
        fitted = _fit(examples, seed, steps.fit_callback())
    nlp, _ = fitted
    digest = data_hash(files, MODEL_FORMAT, str(seed))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    version = f"{stamp}-{digest[:8]}"
    from spacy.language import Language

    assert isinstance(nlp, Language)
    nlp.meta["name"] = "switchboard_nlu"
    nlp.meta["version"] = "1.0.0"
    nlp.meta[pipeline.META_KEY] = {
        "model_version": version,
        "threshold": threshold,
        "data_hash": digest,
        "data_files": [p.name for p in files],
        "seed": seed,
        "n_examples": len(examples),
        "labels": sorted({e.intent for e in examples}),
        "train_seconds": round(time.perf_counter() - started, 3),
        "format": MODEL_FORMAT,
    }
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / version
    n = 1
    while target.exists():
        n += 1
        target = out_root / f"{version}.{n}"
    nlp.meta[pipeline.META_KEY]["model_version"] = target.name
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_root))
    try:
        nlp.to_disk(staging)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _point_to(out_root, target.name)
    return target


def _point_to(out_root: Path, version: str) -> None:
    tmp = out_root / f".{pipeline.CURRENT_FILE}.tmp"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, out_root / pipeline.CURRENT_FILE)


def current_model(out_root: Path) -> Path | None:
    """The current version directory under `out_root`, or None."""
    try:
        return pipeline.resolve_model_dir(Path(out_root))
    except ModelNotFoundError:
        return None


def ensure_model(
    out_root: Path,
    *,
    data: Path | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Path:
    """Return the current model, training one first if there is none or if the data it was
    trained from has changed since (compared by the hash stored in its meta)."""
    existing = current_model(out_root)
    if existing is not None:
        try:
            info = pipeline.read_meta(existing)
        except NLUError:
            info = {}  # an unreadable model is simply trained again
        if info.get("data_hash") == data_hash(data_files(data), MODEL_FORMAT, str(seed)):
            return existing
    return train_model(out_root, data=data, seed=seed, progress=progress)
