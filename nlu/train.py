"""Training: `train_model` writes a new model version; `ensure_model` trains only when needed.

The confidence threshold is calibrated on messages the model did not see: a validation file
when one is given, else out-of-fold predictions of a stratified K-fold split of the training
data (one 10 % split on large data). The final model is then trained on all the data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from spacy.language import Language
from spacy.util import fix_random_seed  # type: ignore[attr-defined]

from nlu import pipeline
from nlu.calibration import choose_threshold
from nlu.component import COMPONENT_NAME, LARGE_DATA, IntentClassifier
from nlu.dataset import Example, data_files, data_hash, read_examples, read_file
from nlu.errors import ModelNotFoundError, NLUError, TrainingDataError
from nlu.text import sanitize

Progress = Callable[[int, int], None]

MODEL_FORMAT = "4"
"""Bumped whenever features or training change, so `ensure_model` retrains older models."""
CV_FOLDS = 5
KEEP_VERSIONS = 3


def fit_pipeline(
    examples: Sequence[Example], seed: int, progress: Progress | None = None
) -> Language:
    """A fresh pipeline with its intent component trained on `examples`."""
    fix_random_seed(seed)
    nlp = pipeline.build_blank()
    docs = [nlp.make_doc(sanitize(e.text)) for e in examples]
    classifier = nlp.get_pipe(COMPONENT_NAME)
    assert isinstance(classifier, IntentClassifier)
    classifier.fit(docs, [e.intent for e in examples], seed=seed, progress=progress)
    return nlp


def top_labels(nlp: Language, texts: Sequence[str]) -> tuple[list[str], list[float]]:
    """Best label and its score for each text."""
    labels: list[str] = []
    scores: list[float] = []
    for doc in nlp.pipe([sanitize(t) for t in texts], batch_size=256):
        label, score = max(doc.cats.items(), key=lambda kv: kv[1])
        labels.append(label)
        scores.append(score)
    return labels, scores


def stratified_folds(labels: Sequence[str], k: int, seed: int) -> list[int]:
    """Fold number (0..k-1) of each example, spreading every label evenly over the folds."""
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
    """Turns the progress of each fit into one overall (done, total) progress."""

    def __init__(self, progress: Progress | None, fits: int) -> None:
        self.progress = progress
        self.fits = fits
        self.started = 0

    def next_fit(self) -> Progress | None:
        if self.progress is None:
            return None
        progress, index, fits = self.progress, self.started, self.fits
        self.started += 1

        def report(done: int, total: int) -> None:
            progress(index * total + done, fits * total)

        return report


def out_of_fold(
    examples: Sequence[Example], seed: int = 0
) -> tuple[list[str], list[float], list[str]]:
    """Predictions for every example by a model that did not train on it.

    Returns (predicted, confidence, gold), from the folds the threshold is calibrated on.
    """
    return _out_of_fold(examples, seed, _Steps(None, 0))


def _out_of_fold(
    examples: Sequence[Example], seed: int, steps: _Steps
) -> tuple[list[str], list[float], list[str]]:
    """Predictions for held-out folds of `examples`: (predicted, confidence, gold)."""
    gold = [e.intent for e in examples]
    if len(examples) >= LARGE_DATA:
        fold = [min(f, 1) for f in stratified_folds(gold, 10, seed)]
        rounds = 1
    else:
        fold = stratified_folds(gold, CV_FOLDS, seed)
        rounds = CV_FOLDS
    predicted: list[str] = []
    confidence: list[float] = []
    truth: list[str] = []
    for k in range(rounds):
        held = [e for e, f in zip(examples, fold, strict=True) if f == k]
        kept = [e for e, f in zip(examples, fold, strict=True) if f != k]
        if not held or len({e.intent for e in kept}) < 2:
            continue
        labels, scores = top_labels(
            fit_pipeline(kept, seed, steps.next_fit()), [e.text for e in held]
        )
        predicted += labels
        confidence += scores
        truth += [e.intent for e in held]
    return predicted, confidence, truth


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
    keep: int = KEEP_VERSIONS,
) -> Path:
    """Train a model and make it the current version under `out_root`.

    Args:
        out_root: model root; the model goes to `out_root/<version>/` and the file
            `out_root/current` names it.
        data: a data file (JSON Lines, or our sectioned `.txt`), a directory of `train*`
            files, or None for Switchboard's own training data.
        seed: random seed; the same data and seed give the same model.
        progress: called with (done, total) while training.
        valid: data to calibrate the threshold on; without it, out-of-fold predictions on
            the training data are used.
        keep: how many versions to keep under `out_root`, the new one included; older ones
            are deleted (a process that loaded one keeps it in memory).

    Returns:
        The new version directory.

    Raises:
        TrainingDataError: the data cannot be read or has fewer than two intents.
    """
    files = data_files(data)
    examples = read_examples(files)
    _check(examples, files[0])
    valid_examples = read_file(valid) if valid else []
    calibration_fits = 0 if valid_examples else (1 if len(examples) >= LARGE_DATA else CV_FOLDS)
    steps = _Steps(progress, calibration_fits + 1)
    n_labels = len({e.intent for e in examples})
    started = time.perf_counter()
    if valid_examples:
        nlp = fit_pipeline(examples, seed, steps.next_fit())
        predicted, confidence = top_labels(nlp, [e.text for e in valid_examples])
        threshold = choose_threshold(
            confidence, predicted, [e.intent for e in valid_examples], n_labels=n_labels
        )
    else:
        predicted, confidence, gold = _out_of_fold(examples, seed, steps)
        threshold = choose_threshold(confidence, predicted, gold, n_labels=n_labels)
        nlp = fit_pipeline(examples, seed, steps.next_fit())
    digest = data_hash(files, MODEL_FORMAT, str(seed))
    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    version = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{digest[:8]}"
    target = out_root / version
    suffix = 1
    while target.exists():
        suffix += 1
        target = out_root / f"{version}.{suffix}"
    nlp.meta["name"] = "switchboard_nlu"
    nlp.meta["version"] = "1.0.0"
    nlp.meta[pipeline.META_KEY] = {
        "model_version": target.name,
        "threshold": threshold,
        "data_hash": digest,
        "data_files": [p.name for p in files],
        "seed": seed,
        "n_examples": len(examples),
        "labels": sorted({e.intent for e in examples}),
        "train_seconds": round(time.perf_counter() - started, 3),
        "format": MODEL_FORMAT,
    }
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_root))
    try:
        nlp.to_disk(staging)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _point_to(out_root, target.name)
    _prune(out_root, keep, target)
    return target


def _prune(out_root: Path, keep: int, current: Path) -> None:
    versions = sorted(
        (p for p in out_root.iterdir() if p.is_dir() and (p / pipeline.META_FILE).is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in versions[max(1, keep) :]:
        if old != current:
            shutil.rmtree(old, ignore_errors=True)


def _point_to(out_root: Path, version: str) -> None:
    # Written aside and renamed, so a reader never sees a half-written pointer.
    tmp = out_root / f".{pipeline.CURRENT_FILE}.{os.getpid()}.tmp"
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
    """Return the current model directory, training a new one first when needed.

    A model is trained when there is none, when it cannot be read, or when the data it was
    trained from has changed since (the data hash in its meta differs).
    """
    existing = current_model(out_root)
    if existing is not None:
        try:
            info = pipeline.read_meta(existing)
        except NLUError:
            info = {}  # an unreadable model is simply trained again
        if info.get("data_hash") == data_hash(data_files(data), MODEL_FORMAT, str(seed)):
            return existing
    return train_model(out_root, data=data, seed=seed, progress=progress)
