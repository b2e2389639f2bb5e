"""Sparse text features for the intent classifier.

A message becomes a bag of hashed-free string features: normalised words, word bigrams (and
trigrams of Han characters, which carry words of two or three characters), and character
n-grams inside each Latin word, which carry typos, inflections and SMS shorthand. Values are
sublinear term frequencies times inverse document frequency, L2-normalised per feature family
so that long words do not drown the word features.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from spacy.tokens import Doc

_DIGITS = re.compile(r"\d+")
_REPEAT = re.compile(r"(.)\1{2,}")
_TICKET = re.compile(r"^(?:inc|req|prb|chg)-?\d+$")
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]$")
_KEEP_PUNCT = frozenset("?!？！")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def normalise_token(text: str) -> str:
    """Fold one token to the form the classifier sees ("" drops it).

    Lower case; digit runs become "0"; letters repeated three or more times are squeezed
    ("pleeeease" → "pleease"); ticket references, mentions, URLs and addresses fold to one
    marker each, since their exact value says nothing about the intent.
    """
    low = text.lower()
    if not low or low.isspace():
        return ""
    if low.startswith("@") or low.startswith("<@"):
        return "<user>"
    if low.startswith(("http://", "https://", "www.")):
        return "<url>"
    if "@" in low and "." in low:
        return "<email>"
    if _TICKET.match(low):
        return "<ticket>"
    if len(low) == 1 and not low.isalnum():
        # Punctuation goes, except ?/! (questions, tone); symbols such as emoji stay.
        if low in _KEEP_PUNCT:
            return low
        return "" if low.isascii() or unicodedata.category(low)[0] in "PZC" else low
    low = _DIGITS.sub("0", low)
    return _REPEAT.sub(r"\1\1", low)


def stem(word: str) -> str:
    """A light English stem: common inflectional suffixes off words of five letters or more."""
    if len(word) < 5 or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def doc_tokens(doc: Doc) -> list[str]:
    """Normalised tokens of a parsed message (punctuation other than ?/! dropped)."""
    out: list[str] = []
    for token in doc:
        norm = normalise_token(token.text)
        if norm:
            out.append(norm)
    return out


def string_features(tokens: Sequence[str], *, char_ngrams: tuple[int, int] = (3, 5)) -> list[str]:
    """The string features of one message, with repeats (term frequency counts them)."""
    feats: list[str] = []
    if not tokens:
        return feats
    lo, hi = char_ngrams
    for tok in tokens:
        feats.append("w " + tok)
        st = stem(tok)
        if st != tok:
            feats.append("w " + st)
        if len(tok) > 1 and not _HAN.match(tok) and tok[0] != "<":
            padded = f"<{tok}>"
            for n in range(lo, hi + 1):
                feats.extend(["c " + padded[i : i + n] for i in range(len(padded) - n + 1)])
    seq = ["<s>", *tokens, "</s>"]
    feats.extend([f"b {a} {b}" for a, b in zip(seq, seq[1:], strict=False)])
    for a, b, c in zip(seq, seq[1:], seq[2:], strict=False):
        if _HAN.match(b) and (_HAN.match(a) or _HAN.match(c)):
            feats.append(f"t {a}{b}{c}")
    return feats


@dataclass(slots=True)
class SparseRows:
    """A batch of sparse rows: row r holds `index[ptr[r]:ptr[r+1]]` with `value[...]`."""

    index: NDArray[np.int32]
    value: NDArray[np.float32]
    ptr: NDArray[np.int64]

    @property
    def n_rows(self) -> int:
        return len(self.ptr) - 1

    def take(self, rows: Sequence[int] | NDArray[np.int64]) -> SparseRows:
        """The sub-batch of these rows, in this order."""
        starts = self.ptr[rows]
        ends = self.ptr[np.asarray(rows) + 1]
        lengths = ends - starts
        ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        if len(lengths) and ptr[-1]:
            gather = np.repeat(starts - ptr[:-1], lengths) + np.arange(ptr[-1])
        else:
            gather = np.zeros(0, dtype=np.int64)
        return SparseRows(self.index[gather], self.value[gather], ptr)


class FeatureSpace:
    """The vocabulary of string features seen in training, with their idf weights."""

    def __init__(self, names: Sequence[str], idf: NDArray[np.float32]) -> None:
        self.names = list(names)
        self.ids = {name: i for i, name in enumerate(self.names)}
        self.idf = idf.astype(np.float32)

    @classmethod
    def fit(cls, feature_lists: Iterable[Sequence[str]], *, min_df: int = 1) -> FeatureSpace:
        """Collect the features of the training messages and their document frequencies."""
        df: Counter[str] = Counter()
        n_docs = 0
        for feats in feature_lists:
            df.update(set(feats))
            n_docs += 1
        names = sorted(name for name, count in df.items() if count >= min_df)
        idf = np.array(
            [math.log((1 + n_docs) / (1 + df[name])) + 1.0 for name in names], dtype=np.float32
        )
        return cls(names, idf)

    def __len__(self) -> int:
        return len(self.names)

    def vectorise(self, feature_lists: Iterable[Sequence[str]]) -> SparseRows:
        """Turn feature lists into weighted, family-normalised sparse rows."""
        ids = self.ids
        idf = self.idf
        indices: list[NDArray[np.int32]] = []
        values: list[NDArray[np.float32]] = []
        ptr = [0]
        for feats in feature_lists:
            counts = Counter(f for f in feats if f in ids)
            if not counts:
                indices.append(np.zeros(0, dtype=np.int32))
                values.append(np.zeros(0, dtype=np.float32))
                ptr.append(ptr[-1])
                continue
            names = list(counts)
            idx = np.fromiter((ids[n] for n in names), dtype=np.int32, count=len(names))
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(names))
            val = (1.0 + np.log(tf)) * idf[idx]
            family = np.fromiter((n[0] == "c" for n in names), dtype=bool, count=len(names))
            n_families = 0
            for mask in (family, ~family):
                norm = float(np.sqrt(np.dot(val[mask], val[mask])))
                if norm > 0:
                    val[mask] /= norm
                    n_families += 1
            val /= math.sqrt(n_families)
            indices.append(idx)
            values.append(val)
            ptr.append(ptr[-1] + len(idx))
        return SparseRows(
            np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32),
            np.concatenate(values) if values else np.zeros(0, dtype=np.float32),
            np.asarray(ptr, dtype=np.int64),
        )
