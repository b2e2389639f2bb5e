"""Search quality on the evaluation set: mean reciprocal rank beside a plain BM25 baseline.

The 50 articles and 40 queries in tests/data/kb were written before the ranking was tuned.
The baseline is textbook BM25 (k1 1.2, b 0.75) over each article's title, tags and body as
one field, with the same terms (English words, Chinese bigrams): it tells how much the field
weights of the real index add, and guards against a ranking change that loses to it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest
import yaml

from store.db import SessionFactory
from store.knowledge import ArticleInput
from store.segment import query_terms, terms
from store.uow import UnitOfWork
from tests.unit.kb.conftest import KB_DATA, evaluation_articles

DEPTH = 10


@dataclass(frozen=True)
class Query:
    text: str
    expected: str
    language: str


def queries() -> list[Query]:
    data = yaml.safe_load((KB_DATA / "queries.yaml").read_text(encoding="utf-8"))
    return [
        Query(q["query"], q["expected"], "zh" if q["expected"].startswith("zh-") else "en")
        for q in data["queries"]
    ]


class BM25:
    """Okapi BM25 over whole documents, nothing else."""

    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = {k: Counter(v) for k, v in docs.items()}
        self.lengths = {k: len(v) for k, v in docs.items()}
        self.avg = sum(self.lengths.values()) / len(docs)
        df = Counter(t for d in self.docs.values() for t in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def rank(self, words: list[str]) -> list[str]:
        scores: dict[str, float] = {}
        for key, tf in self.docs.items():
            s = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.lengths[key] / self.avg)
            for w in words:
                if w in tf:
                    s += self.idf[w] * tf[w] * (self.k1 + 1) / (tf[w] + norm)
            if s > 0:
                scores[key] = s
        return sorted(scores, key=lambda k: (-scores[k], k))


def reciprocal_rank(ranked: list[str], expected: str) -> float:
    return 1.0 / (ranked.index(expected) + 1) if expected in ranked[:DEPTH] else 0.0


def baseline(articles: list[ArticleInput]) -> BM25:
    return BM25({a.slug: terms(f"{a.title} {' '.join(a.tags)} {a.body}") for a in articles})


async def test_search_ranks_the_expected_article_first_more_often_than_plain_bm25(
    loaded: SessionFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = baseline(evaluation_articles())
    ours: dict[str, list[float]] = {"en": [], "zh": []}
    base: dict[str, list[float]] = {"en": [], "zh": []}
    misses = []
    async with UnitOfWork(loaded) as uow:
        for q in queries():
            hits = await uow.knowledge.search_text(q.text, limit=DEPTH)
            ranked = [h.article.slug for h in hits]
            ours[q.language].append(reciprocal_rank(ranked, q.expected))
            base[q.language].append(reciprocal_rank(plain.rank(query_terms(q.text)), q.expected))
            if not ranked or ranked[0] != q.expected:
                misses.append(f"{q.text!r}: expected {q.expected}, got {ranked[:3]}")

    def mrr(rr: dict[str, list[float]], lang: str | None = None) -> float:
        values = [v for k, vs in rr.items() if lang in (None, k) for v in vs]
        return sum(values) / len(values)

    with capsys.disabled():
        print(
            f"\nMRR@{DEPTH} ({loaded.kw['bind'].dialect.name}): search {mrr(ours):.3f} "
            f"(en {mrr(ours, 'en'):.3f}, zh {mrr(ours, 'zh'):.3f}); plain BM25 "
            f"{mrr(base):.3f} (en {mrr(base, 'en'):.3f}, zh {mrr(base, 'zh'):.3f})"
        )
        for m in misses:
            print("  not first:", m)
    assert len(ours["en"]) >= 15
    assert len(ours["zh"]) >= 10
    assert mrr(ours, "en") >= 0.85
    assert mrr(ours, "zh") >= 0.85
    assert mrr(ours) >= mrr(base) - 0.03
