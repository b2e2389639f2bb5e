"""Turning English and Chinese text into index terms, the same way for articles and queries.

Chinese has no spaces and PostgreSQL has no Chinese parser, so both databases are handed terms
made here. Chinese runs become overlapping character bigrams (二元切分): no dictionary to ship
or load, every word of two or more characters is found, and a query shares bigrams with the
article even where a dictionary segmenter would cut the two differently. English words are
lower-cased, stripped of a few common endings and of words too common to rank by. The last
functions write the terms in the form each database's index takes.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

# CJK unified ideographs with extension A and the compatibility block.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_HAN}]+|[^\W_{_HAN}]+")
_IS_HAN = re.compile(rf"[{_HAN}]")

STOP_WORDS = frozenset(
    """a about after all am an and any are as at be been but by can cannot could did do does
    doing for from get got had has have having how i if in into is it its me my no not of on
    or our please so some than that the their them then there these they this to too up us
    was we were what when where which while who why will with would you your""".split()
)


def _stem(word: str) -> str:
    """A light suffix strip: plurals and -ing/-ed, enough to meet "printers" with "printer"."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            return word[: -len(suffix)] + keep
    return word


def terms(text: str) -> list[str]:
    """Index terms of `text` in order, repeats kept (ranking counts them)."""
    out: list[str] = []
    for run in _RUN.findall(unicodedata.normalize("NFKC", text).casefold()):
        if _IS_HAN.match(run):
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run not in STOP_WORDS:
            out.append(_stem(run))
    return out


def query_terms(text: str, *, limit: int = 32) -> list[str]:
    """The distinct terms of a search query, first `limit` of them."""
    return list(dict.fromkeys(terms(text)))[:limit]


# PostgreSQL keeps positions up to 16383 and at most 256 per lexeme.
_MAX_POSITION = 16383
_MAX_POSITIONS_PER_TERM = 256


def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(title: str, tags: Sequence[str], body: str) -> str:
    """The article as a `tsvector` input string: terms with positions and weight labels.

    Built here rather than by `to_tsvector`, whose parser would split Chinese (or drop it
    under a C locale); the cast parses nothing but this list.
    """
    positions: dict[str, list[str]] = {}
    pos = 0
    for label, words in (("A", terms(title)), ("B", terms(" ".join(tags))), ("D", terms(body))):
        for w in words:
            pos = min(pos + 1, _MAX_POSITION)
            seen = positions.setdefault(w, [])
            if len(seen) < _MAX_POSITIONS_PER_TERM:
                seen.append(f"{pos}{label}")
    return " ".join(f"{_quote(w)}:{','.join(p)}" for w, p in positions.items())


def tsquery_literal(words: Sequence[str], *, every: bool = False) -> str:
    """Any of the terms (or, with `every`, all of them), as `tsquery` input."""
    return (" & " if every else " | ").join(_quote(w) for w in words)


def fts5_query(words: Sequence[str]) -> str:
    """Any of the terms, each a quoted FTS5 string so no term is read as syntax."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


def fts5_row(title: str, tags: Sequence[str], body: str) -> dict[str, str]:
    """The FTS5 columns of an article: its terms joined by spaces."""
    return {
        "title": " ".join(terms(title)),
        "tags": " ".join(terms(" ".join(tags))),
        "body": " ".join(terms(body)),
    }
