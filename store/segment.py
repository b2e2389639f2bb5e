"""Turning English and Chinese text into index terms, the same way for articles and queries.

Chinese has no spaces and PostgreSQL has no Chinese parser, so both databases are handed terms
made here. Chinese runs become overlapping character bigrams (二元切分): no dictionary to ship
or load, every word of two or more characters is found, and a query shares bigrams with the
article even where a dictionary segmenter would cut the two differently. English words are
lower-cased, stripped of a few common endings and of words too common to rank by.
"""

from __future__ import annotations

import re
import unicodedata

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
