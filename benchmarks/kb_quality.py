"""Knowledge search quality: mean reciprocal rank of the search beside a plain BM25 baseline.

The evaluation set is `tests/data/kb`: 50 Markdown articles (English and Chinese) and 40
queries, each with the article it should find, written before the ranking was tuned. The
search runs as a handler calls it (`KnowledgeRepository.search_text`, SQLite FTS5 or
PostgreSQL full text); the baseline is textbook Okapi BM25 (k1 1.2, b 0.75) over each
article's title, tags and body as one field, with the same index terms (English words,
Chinese segmented), computed here in Python. The baseline is the reference: the difference
says what the index's field weights add, on any machine.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import yaml

from benchmarks.kb_bench import _pg_admin
from bot.cli_kb import collect, read_all
from store.db import create_engine, normalise_database_url, session_factory
from store.knowledge import ArticleInput
from store.migrate import upgrade_engine
from store.segment import query_terms, terms
from store.uow import UnitOfWork

DEPTH = 10
"""Ranks counted: an expected article below this gives 0."""
DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "kb"


@dataclass(frozen=True, slots=True)
class Query:
    """An evaluation query, the slug of the article it should find, and its language."""

    text: str
    expected: str
    language: str


class BM25:
    """Okapi BM25 over whole documents, nothing else."""

    def __init__(self, docs: dict[str, list[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self.docs = {k: Counter(v) for k, v in docs.items()}
        self.lengths = {k: len(v) for k, v in docs.items()}
        self.avg = sum(self.lengths.values()) / max(1, len(docs))
        df = Counter(t for d in self.docs.values() for t in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def rank(self, words: Sequence[str]) -> list[str]:
        """Slugs of the documents matching any of `words`, best score first, ties by slug."""
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


def reciprocal_rank(ranked: Sequence[str], expected: str) -> float:
    """1/rank of `expected` in `ranked`, or 0 when it is not within the first `DEPTH`."""
    return 1.0 / (list(ranked).index(expected) + 1) if expected in ranked[:DEPTH] else 0.0


def baseline(articles: Sequence[ArticleInput]) -> BM25:
    """The BM25 reference over `articles`, title, tags and body indexed as one field."""
    return BM25({a.slug: terms(f"{a.title} {' '.join(a.tags)} {a.body}") for a in articles})


def evaluation_articles(data: Path = DATA) -> list[ArticleInput]:
    """The evaluation set's articles, read as `switchboard kb import` reads them.

    Raises:
        ValueError: an article does not parse, or two claim one slug.
    """
    found, problems = read_all(collect([data / "articles"]))
    if problems:
        raise ValueError("; ".join(str(p) for p in problems))
    return found


def evaluation_queries(data: Path = DATA) -> list[Query]:
    """The queries of `queries.yaml`; those expecting a `zh-` article count as Chinese."""
    loaded = yaml.safe_load((data / "queries.yaml").read_text(encoding="utf-8"))
    return [
        Query(q["query"], q["expected"], "zh" if q["expected"].startswith("zh-") else "en")
        for q in loaded["queries"]
    ]


def mean(values: Sequence[float]) -> float:
    """Mean to three places; NaN for a language without queries."""
    return round(sum(values) / len(values), 3) if values else float("nan")


@dataclass(frozen=True, slots=True)
class QualityFigures:
    """Mean reciprocal ranks of the search and of BM25, overall and by language."""

    database: str
    articles: int
    queries: int
    depth: int
    mrr: float
    mrr_en: float
    mrr_zh: float
    bm25_mrr: float
    bm25_mrr_en: float
    bm25_mrr_zh: float
    first: int
    """Queries whose expected article the search ranked first."""
    bm25_first: int
    misses: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The figures by field name, misses as a list, for `--json`."""
        row = asdict(self)
        row["misses"] = list(self.misses)
        return row


async def measure(url: str, data: Path = DATA) -> QualityFigures:
    """Import the evaluation set into a migrated, empty database at `url` and rank the queries."""
    articles = evaluation_articles(data)
    questions = evaluation_queries(data)
    plain = baseline(articles)
    db_url, args = normalise_database_url(url)
    engine = create_engine(db_url, connect_args=args)
    ours: dict[str, list[float]] = {"en": [], "zh": []}
    base: dict[str, list[float]] = {"en": [], "zh": []}
    misses: list[str] = []
    try:
        await upgrade_engine(engine)
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            await uow.knowledge.save_many(articles)
            await uow.commit()
        async with UnitOfWork(factory) as uow:
            for q in questions:
                hits = await uow.knowledge.search_text(q.text, limit=DEPTH)
                ranked = [h.article.slug for h in hits]
                ours[q.language].append(reciprocal_rank(ranked, q.expected))
                base[q.language].append(
                    reciprocal_rank(plain.rank(query_terms(q.text)), q.expected)
                )
                if not ranked or ranked[0] != q.expected:
                    misses.append(f"{q.text!r}: expected {q.expected}, got {ranked[:3]}")
        database = engine.dialect.name
    finally:
        await engine.dispose()
    every = ours["en"] + ours["zh"]
    every_base = base["en"] + base["zh"]
    return QualityFigures(
        database=database,
        articles=len(articles),
        queries=len(questions),
        depth=DEPTH,
        mrr=mean(every),
        mrr_en=mean(ours["en"]),
        mrr_zh=mean(ours["zh"]),
        bm25_mrr=mean(every_base),
        bm25_mrr_en=mean(base["en"]),
        bm25_mrr_zh=mean(base["zh"]),
        first=sum(1 for v in every if v == 1.0),
        bm25_first=sum(1 for v in every_base if v == 1.0),
        misses=tuple(misses),
    )


def run(
    *,
    postgres: str | None = None,
    data: Path = DATA,
    progress: Callable[[str], None] = lambda _: None,
) -> QualityFigures:
    """Measure on a throw-away SQLite file, or a throw-away database on the server `postgres`."""
    progress("ranking the evaluation queries")
    if postgres is None:
        with tempfile.TemporaryDirectory(prefix="kb-quality-") as tmp:
            return asyncio.run(measure(f"sqlite:///{Path(tmp) / 'kb.db'}", data))
    name = f"sb_kbquality_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(postgres, f'CREATE DATABASE "{name}"'))
    try:
        url = urlunsplit(urlsplit(postgres)._replace(path=f"/{name}"))
        return asyncio.run(measure(url, data))
    finally:
        asyncio.run(_pg_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
