"""Sentiment of a message, negative / neutral / positive, in English and Chinese.

A multinomial logistic regression over TF-IDF 1–2-grams of tokens (Latin words, and single Han
characters, so that Chinese bigrams carry its two-character words without a segmenter), the
VADER scores of the text (its lexicon knows the polarity of 7,500 English words, emoticons and
emoji, with negation and intensifier rules no small data set can teach), and a Chinese-script
flag that gives each language its own intercept.

The shipped model (`nlu/data/sentiment.npz`, built by `build_shipped_model`) keeps only the
vocabularies, idf weights and coefficients as arrays, not a pickle: it loads with any
scikit-learn version and without running code from the file. Nothing here is imported until
sentiment is asked for, so a process that never asks pays nothing.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from nlu.errors import ModelFormatError
from nlu.text import sanitize

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]

LABELS = ("negative", "neutral", "positive")
SHIPPED_FILE = "sentiment.npz"
_VADER_KEYS = ("neg", "neu", "pos", "compound")
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAS_HAN = re.compile(f"[{_HAN}]")
_TOKENS = {
    "ngram_range": (1, 2),
    "token_pattern": rf"(?u)[{_HAN}]|[^\W\d_{_HAN}][^\W{_HAN}]*|\d+",
    "sublinear_tf": True,
}
N_DENSE = 7
"""Dense columns after the TF-IDF block: four VADER scores, VADER's own positive and negative
verdicts, the Chinese-script flag."""
VADER_WEIGHT = 4.0
"""Scale of the VADER columns against the unit-length TF-IDF blocks, so that a moderate
penalty does not drown the lexicon."""


@dataclass(frozen=True, slots=True)
class Sentiment:
    """The sentiment of one text.

    `score` runs from -1 (negative) to 1 (positive): P(positive) - P(negative).
    """

    text: str
    label: str
    score: float

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready dict, the score rounded to four places."""
        return {"text": self.text, "label": self.label, "score": round(self.score, 4)}


_vader_lock = threading.Lock()
_vader: Any = None


def vader() -> Any:
    """The VADER analyser, built once (its lexicon takes a tenth of a second to read)."""
    global _vader
    with _vader_lock:
        if _vader is None:
            from vaderSentiment.vaderSentiment import (
                SentimentIntensityAnalyzer,
            )

            _vader = SentimentIntensityAnalyzer()
        return _vader


def vader_label(text: str) -> str:
    """VADER alone, with its authors' cut-offs: compound ≥ 0.05 positive, ≤ -0.05 negative."""
    compound = float(vader().polarity_scores(text)["compound"])
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def _dense_rows(texts: Sequence[str]) -> NDArray[np.float64]:
    analyser = vader()
    rows = []
    for text in texts:
        scores = analyser.polarity_scores(text)
        compound = scores["compound"]
        rows.append(
            [scores[k] * VADER_WEIGHT for k in _VADER_KEYS]
            + [VADER_WEIGHT * (compound >= 0.05), VADER_WEIGHT * (compound <= -0.05)]
            + [float(bool(_HAS_HAN.search(text)))]
        )
    return np.array(rows, dtype=np.float64).reshape(len(texts), N_DENSE)


class SentimentModel:
    """Fitted vectorisers and coefficients; `predict` gives one `Sentiment` per text."""

    def __init__(self, tokens: Any, coef: NDArray[np.float64], bias: NDArray[np.float64]):
        self.tokens = tokens
        self.coef = coef
        self.bias = bias

    def _features(self, texts: Sequence[str]) -> csr_matrix:
        from scipy.sparse import csr_matrix, hstack

        return hstack([self.tokens.transform(texts), csr_matrix(_dense_rows(texts))], format="csr")

    def proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """Probabilities of the labels in `LABELS` order, one row per text."""
        z = np.asarray(self._features(texts) @ self.coef) + self.bias
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out: NDArray[np.float64] = e / e.sum(axis=1, keepdims=True)
        return out

    def predict(self, texts: Sequence[str]) -> list[Sentiment]:
        """The sentiment of each text (text cleaned as for parsing)."""
        clean = [sanitize(t) for t in texts]
        if not clean:
            return []
        proba = self.proba(clean)
        return [
            Sentiment(text, LABELS[int(row.argmax())], float(row[2] - row[0]))
            for text, row in zip(clean, proba, strict=True)
        ]

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        weights: Sequence[float] | None = None,
        c: float = 0.25,
    ) -> SentimentModel:
        """Train on labelled texts (labels from `LABELS`), classes weighted to balance."""
        from scipy.sparse import csr_matrix, hstack
        from sklearn.feature_extraction.text import (
            TfidfVectorizer,
        )
        from sklearn.linear_model import LogisticRegression

        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown sentiment labels {sorted(unknown)}")
        tokens = TfidfVectorizer(min_df=2, max_features=50_000, **_TOKENS)
        x = hstack([tokens.fit_transform(texts), csr_matrix(_dense_rows(texts))], format="csr")
        y = np.array([LABELS.index(label) for label in labels])
        weight = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
        # Classes balanced within each language: the metric is macro recall, neutral dominates
        # the tweets, and the Chinese reviews (positive and negative only) must not make
        # neutral look rare in English.
        chinese = np.array([bool(_HAS_HAN.search(t)) for t in texts], dtype=bool)
        balance = np.ones(len(y))
        for group in (chinese, ~chinese):
            counts = np.bincount(y[group], weights=weight[group], minlength=len(LABELS))
            factor = counts.sum() / (len(LABELS) * np.maximum(counts, 1e-9))
            balance[group] = factor[y[group]]
        regression = LogisticRegression(C=c, max_iter=300)
        regression.fit(x, y, sample_weight=weight * balance)
        return cls(tokens, regression.coef_.T.copy(), regression.intercept_.copy())

    def save(self, path: Path) -> None:
        """Write vocabularies, idf weights and coefficients (float16) to one `.npz` file."""
        np.savez_compressed(
            path,
            vocab=np.array(json.dumps(_vocab(self.tokens), ensure_ascii=False)),
            idf=self.tokens.idf_.astype(np.float32),
            coef=self.coef.astype(np.float16),
            bias=self.bias.astype(np.float64),
        )

    @classmethod
    def load(cls, path: Path) -> SentimentModel:
        """Read a model written by `save`."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            with np.load(path, allow_pickle=False) as data:
                parts = {key: data[key] for key in data.files}
            vocabulary = json.loads(str(parts["vocab"]))
            tokens = TfidfVectorizer(vocabulary=vocabulary, **_TOKENS)
            tokens.idf_ = parts["idf"].astype(np.float64)
            coef = parts["coef"].astype(np.float64)
            bias = parts["bias"].astype(np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFormatError(f"cannot read the sentiment model {path}: {exc}") from exc
        if coef.shape != (len(vocabulary) + N_DENSE, len(LABELS)):
            raise ModelFormatError(f"{path}: coefficients do not match the vocabulary")
        return cls(tokens, coef, bias)


def _vocab(vectorizer: Any) -> list[str]:
    """The vocabulary in column order (as a list, so the file needs no pickled dict)."""
    names = [""] * len(vectorizer.vocabulary_)
    for term, column in vectorizer.vocabulary_.items():
        names[column] = term
    return names


def shipped_model_path() -> Path:
    """Where the trained model ships inside the package."""
    return Path(str(resources.files("nlu") / "data" / SHIPPED_FILE))


_model_lock = threading.Lock()
_model: SentimentModel | None = None


def load_shipped() -> SentimentModel:
    """The shipped model, read on first use and then kept."""
    global _model
    with _model_lock:
        if _model is None:
            _model = SentimentModel.load(shipped_model_path())
        return _model


def analyse(texts: Sequence[str]) -> list[Sentiment]:
    """Sentiment of each text with the shipped model."""
    return load_shipped().predict(texts)


def macro_recall(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, dict[str, float]]:
    """Mean recall over the labels present in `gold`, and the recall of each."""
    per_class: dict[str, float] = {}
    for label in LABELS:
        members = [p for g, p in zip(gold, predicted, strict=True) if g == label]
        if members:
            per_class[label] = sum(p == label for p in members) / len(members)
    mean = sum(per_class.values()) / len(per_class) if per_class else 0.0
    return mean, per_class
