"""Search quality on the evaluation set: mean reciprocal rank beside a plain BM25 baseline.

The 50 articles and 40 queries in tests/data/kb were written before the ranking was tuned.
The baseline is textbook BM25 (k1 1.2, b 0.75) over each article's title, tags and body as
one field, with the same terms (English words, Chinese bigrams): it tells how much the field
weights of the real index add, and guards against a ranking change that loses to it.
`switchboard bench kb-quality` prints the same figures (`benchmarks/kb_quality.py`).
"""

from __future__ import annotations

import pytest

from benchmarks.kb_quality import DEPTH, Query, baseline, evaluation_queries, reciprocal_rank
from store.db import SessionFactory
from store.segment import query_terms
from store.uow import UnitOfWork
from tests.unit.kb.conftest import KB_DATA, evaluation_articles


def queries() -> list[Query]:
    return evaluation_queries(KB_DATA)


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
