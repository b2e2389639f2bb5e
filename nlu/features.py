"""Sparse text features for the intent classifier.

A message becomes a bag of string features over an explicit vocabulary (no hashing, so no
collisions and no fixed-size table): normalised words, word bigrams (and
trigrams of Han characters, which carry words of two or three characters), and character
n-grams inside each Latin word, which carry typos, inflections and SMS shorthand. Values are
sublinear term frequencies times inverse document frequency, L2-normalised per feature family
so that long words do not drown the word features.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from spacy.strings import hash_string  # type: ignore[attr-defined]
from spacy.tokens import Doc

_DIGITS = re.compile(r"\d+")
_REPEAT = re.compile(r"(.)\1{2,}")
_TICKET = re.compile(r"^(?:inc|req|prb|chg)-?\d+$")
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]$")
_KEEP_PUNCT = frozenset("?!？！")
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


@functools.lru_cache(maxsize=100_000)
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


def token_features(token: str, *, char_ngrams: tuple[int, int] = (3, 5)) -> list[str]:
    """Features of one normalised token alone: the word, its stem, its character n-grams."""
    feats = ["w " + token]
    st = stem(token)
    if st != token:
        feats.append("w " + st)
    if len(token) > 1 and not _HAN.match(token) and token[0] != "<":
        padded = f"<{token}>"
        lo, hi = char_ngrams
        for n in range(lo, hi + 1):
            feats.extend(["c " + padded[i : i + n] for i in range(len(padded) - n + 1)])
    return feats


def context_features(tokens: Sequence[str]) -> list[str]:
    """Features of neighbouring tokens: word bigrams, and trigrams of Han characters."""
    seq = ["<s>", *tokens, "</s>"]
    feats = [f"b {a} {b}" for a, b in zip(seq, seq[1:], strict=False)]
    for a, b, c in zip(seq, seq[1:], seq[2:], strict=False):
        if _HAN.match(b) and (_HAN.match(a) or _HAN.match(c)):
            feats.append(f"t {a}{b}{c}")
    return feats


def string_features(tokens: Sequence[str]) -> list[str]:
    """Every string feature of one message, with repeats (term frequency counts them)."""
    if not tokens:
        return []
    feats: list[str] = []
    for token in tokens:
        feats.extend(token_features(token))
    feats.extend(context_features(tokens))
    return feats


@dataclass(slots=True)
class SparseRows:
    """A batch of sparse rows: row r holds `index[ptr[r]:ptr[r+1]]` with `value[...]`."""

    index: NDArray[np.int64]
    value: NDArray[np.float32]
    ptr: NDArray[np.int64]

    @property
    def n_rows(self) -> int:
        """How many rows the batch holds (`ptr` has one offset more)."""
        return len(self.ptr) - 1

    def take(self, rows: Sequence[int] | NDArray[np.int64]) -> SparseRows:
        """The sub-batch of these rows, in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        starts = self.ptr[rows]
        lengths = self.ptr[rows + 1] - starts
        ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=ptr[1:])
        gather = np.repeat(starts - ptr[:-1], lengths) + np.arange(ptr[-1])
        return SparseRows(self.index[gather], self.value[gather], ptr)


_CACHE_LIMIT = 200_000
_NO_IDS: NDArray[np.int32] = np.zeros(0, dtype=np.int32)


def feature_keys(features: Sequence[str]) -> NDArray[np.uint64]:
    """Stable 64-bit keys of string features (spaCy's MurmurHash of their UTF-8 bytes).

    Not Python's `hash()`, which changes with every process.
    """
    return np.fromiter(map(hash_string, features), dtype=np.uint64, count=len(features))


class FeatureSpace:
    """The vocabulary of string features seen in training, with their idf weights.

    A feature's id is its place in the sorted vocabulary. The vocabulary is held as the sorted
    64-bit keys of its features (`feature_keys`) beside the id of each key, not as Python strings
    and a dict: some 23,000 features took about 3.6 MB of a worker as strings and their index,
    and take 0.7 MB as keys, ids and the names' saved text. Two features of one vocabulary
    never share a key (checked when it is built; a vocabulary where two did would be looked up
    by string instead), and a feature outside it takes a known feature's key with a chance of
    about one in 10^15 per feature.

    Messages are mapped to feature ids through a per-token cache, since the character n-grams
    of a word are the same every time it appears; only the context features are looked up
    anew for each message.
    """

    def __init__(self, names: Sequence[str], idf: NDArray[np.float32]) -> None:
        # The names stay only as the text they were saved as, for saving again.
        self._text = "\n".join(names).encode("utf-8")
        self._size = len(names)
        self.idf = idf.astype(np.float32)
        self.is_char = np.fromiter(
            (n.startswith("c ") for n in names), dtype=np.uint8, count=len(names)
        )
        keys = feature_keys(names)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._ids = order.astype(np.int32)
        self._by_name: dict[str, int] | None = None
        if len(self._keys) > 1 and bool((self._keys[1:] == self._keys[:-1]).any()):
            self._by_name = {name: i for i, name in enumerate(names)}
        self._token_ids: dict[str, NDArray[np.int32]] = {}

    @property
    def names(self) -> list[str]:
        """The features in id order."""
        return self._text.decode("utf-8").split("\n") if self._size else []

    @classmethod
    def fit(cls, feature_lists: Iterable[Sequence[str]], *, min_df: int = 1) -> FeatureSpace:
        """Collect the features of the training messages and their document frequencies."""
        df: Counter[str] = Counter()
        n_docs = 0
        for feats in feature_lists:
            df.update(set(feats))
            n_docs += 1
        names = sorted(n for n, count in df.items() if count >= min_df and "\n" not in n)
        idf = np.array(
            [math.log((1 + n_docs) / (1 + df[name])) + 1.0 for name in names], dtype=np.float32
        )
        return cls(names, idf)

    def __len__(self) -> int:
        return self._size

    def lookup(self, features: Sequence[str]) -> NDArray[np.int32]:
        """Ids of the known features among `features`, in their order, with repeats."""
        if not features:
            return _NO_IDS
        if self._by_name is not None:
            ids = self._by_name
            return np.array([i for f in features if (i := ids.get(f)) is not None], np.int32)
        keys = feature_keys(features)
        at = np.searchsorted(self._keys, keys)
        at[at == len(self._keys)] = 0
        found: NDArray[np.int32] = self._ids[at[self._keys[at] == keys]]
        return found

    def feature_ids(self, tokens: Sequence[str]) -> NDArray[np.int32]:
        """Ids of the known features of one message (normalised tokens), with repeats."""
        if not tokens or not self._size:
            return _NO_IDS
        cache = self._token_ids
        parts: list[NDArray[np.int32]] = []
        for token in tokens:
            known = cache.get(token)
            if known is None:
                known = self.lookup(token_features(token))
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()
                cache[token] = known
            parts.append(known)
        parts.append(self.lookup(context_features(tokens)))
        return np.concatenate(parts)

    def vectorise(self, id_lists: Sequence[NDArray[np.int32]]) -> SparseRows:
        """Weighted rows: sublinear tf × idf, L2-normalised per feature family (word, char)."""
        n = len(id_lists)
        n_features = max(1, self._size)
        lengths = np.fromiter((len(x) for x in id_lists), dtype=np.int64, count=n)
        flat = np.concatenate(id_lists) if n else _NO_IDS
        keys = np.repeat(np.arange(n, dtype=np.int64), lengths) * n_features + flat
        unique, counts = np.unique(keys, return_counts=True)
        doc = unique // n_features
        index = unique % n_features
        value = ((1.0 + np.log(counts)) * self.idf[index]).astype(np.float32)
        group = doc * 2 + self.is_char[index]
        norms = np.sqrt(np.bincount(group, weights=value * value, minlength=2 * n))
        families = (norms.reshape(n, 2) > 0).sum(axis=1)
        value /= norms[group] * np.sqrt(families[doc])
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(doc, minlength=n), out=ptr[1:])
        return SparseRows(index, value.astype(np.float32), ptr)
