"""The full-text index of knowledge articles: how it is written and how it is searched.

The index is written in the same transaction as the article, so a search never sees an
article without its index or an index of a body that was rolled back. On SQLite the index is
the FTS5 table `knowledge_fts` ranked by bm25; on PostgreSQL it is the `tsvector` column
`knowledge_articles.search_vector` (GIN index) ranked by `ts_rank`. Both hold terms made by
`store.segment`, so English and Chinese are indexed and queried the same way on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from store.direct import Direct
from store.hotpath import loaded, reads
from store.models import KnowledgeArticle
from store.segment import fts5_query, fts5_row, query_terms, tsquery_literal, tsvector_literal

# Field weights. bm25 multiplies a field's score; ts_rank takes one weight per label
# (D, C, B, A): the body is D, tags B, the title A.
BM25_WEIGHTS = (4.0, 2.0, 1.0)  # title, tags, body
TS_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
RANKED = 300
"""At most this many matches of one search stage are ranked on PostgreSQL."""
MOST_TERMS_UP_TO = 6
"""Queries of up to this many terms try "all terms but one" before "any term"."""


def pg_stages(words: Sequence[str]) -> list[str]:
    """The `tsquery` of each search stage, best answers first.

    The stages: every term; every term but one; any term in a title or tags; any term
    anywhere.
    """
    stages = []
    if len(words) > 1:
        stages.append(tsquery_literal(words, every=True))
    if 3 <= len(words) <= MOST_TERMS_UP_TO:
        stages.append(
            " | ".join(
                "(" + tsquery_literal([w for w in words if w != left], every=True) + ")"
                for left in words
            )
        )
    stages.append(" | ".join(f"{tsquery_literal([w])}:AB" for w in words))
    stages.append(tsquery_literal(words))
    return stages


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An article a search found, and how well it fits."""

    article: KnowledgeArticle
    score: float  # higher is better; comparable only within one search


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What the index holds of one article."""

    article_id: int
    title: str
    tags: Sequence[str]
    body: str


async def write_index(session: AsyncSession, rows: Sequence[IndexRow], *, new: bool) -> None:
    """Index the articles; `new` ones have no entry yet, the others are indexed again."""
    if not rows:
        return

    async def run(sql: str, params: list[dict[str, Any]]) -> None:
        await session.execute(text(sql), params[0] if len(params) == 1 else params)

    if session.get_bind().dialect.name == "sqlite":
        if not new:
            await run(
                "DELETE FROM knowledge_fts WHERE rowid = :id", [{"id": r.article_id} for r in rows]
            )
        await run(
            "INSERT INTO knowledge_fts (rowid, title, tags, body)"
            " VALUES (:id, :title, :tags, :body)",
            [{"id": r.article_id, **fts5_row(r.title, list(r.tags), r.body)} for r in rows],
        )
    else:
        await run(
            "UPDATE knowledge_articles SET search_vector = CAST(:v AS tsvector) WHERE id = :id",
            [
                {"id": r.article_id, "v": tsvector_literal(r.title, list(r.tags), r.body)}
                for r in rows
            ],
        )


class KnowledgeSearch:
    """Ranked full-text search over the articles, on SQLite and PostgreSQL alike."""

    session: AsyncSession
    kept_articles: dict[int, KnowledgeArticle]
    """Articles this unit of work's searches loaded, by id (set by the repository)."""

    @property
    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    async def search(
        self, terms: Sequence[str], *, limit: int = 3, about: str | None = None
    ) -> list[KnowledgeArticle]:
        """Articles matching any of the words, best first (`about`: see `search_text`)."""
        hits = await self.search_text(" ".join(terms), limit=limit, about=about)
        return [h.article for h in hits]

    async def search_text(
        self,
        query: str,
        *,
        service: str | None = None,
        language: str | None = None,
        limit: int = 5,
        about: str | None = None,
    ) -> list[SearchHit]:
        """Ranked full-text search in either language, optionally about one service.

        `service` keeps only the articles that list the service; `about` keeps those and the
        articles that list no service at all (general how-tos), leaving out only the articles
        written for other services: what a question naming a service should be offered.
        """
        words = query_terms(query)
        if not words or limit <= 0:
            return []
        params: dict[str, Any] = {"limit": limit}
        filters = ""
        if language:
            filters += " AND a.language = :language"
            params["language"] = language
        if service:
            filters += (
                " AND EXISTS (SELECT 1 FROM knowledge_article_services s"
                " WHERE s.article_id = a.id AND s.service = :service)"
            )
            params["service"] = service.casefold()
        if about:
            filters += (
                " AND (NOT EXISTS (SELECT 1 FROM knowledge_article_services s"
                " WHERE s.article_id = a.id) OR EXISTS (SELECT 1 FROM knowledge_article_services s"
                " WHERE s.article_id = a.id AND s.service = :about))"
            )
            params["about"] = about.casefold()
        # Only constants and the filters above are formatted in; every value is a parameter.
        if self._sqlite:
            params["q"] = fts5_query(words)
            t, g, b = BM25_WEIGHTS
            # Joining every match to its article doubles the cost of a common term: join
            # only when a filter needs the article's columns.
            source = (
                "knowledge_fts JOIN knowledge_articles a ON a.id = knowledge_fts.rowid"
                if filters
                else "knowledge_fts"
            )
            sql = (
                f"SELECT knowledge_fts.rowid, -bm25(knowledge_fts, {t}, {g}, {b}) AS score"  # noqa: S608
                f" FROM {source} WHERE knowledge_fts MATCH :q{filters}"
                " ORDER BY score DESC LIMIT :limit"
            )
        else:
            return await self._pg_search(filters, words, {**params, "cap": RANKED}, limit)
        found = await _direct(sql).rows(self.session, params)
        ranked = [(r[0], float(r[1])) for r in found]
        return await self._hits(ranked)

    async def _pg_search(
        self, filters: str, words: Sequence[str], params: dict[str, Any], limit: int
    ) -> list[SearchHit]:
        """Stage by stage, from the best answers to the rest, until `limit` are found.

        The stages are `pg_stages`; each stage ranks below the one before.

        `ts_rank` reads the whole vector of every match, and a common term matches a good
        part of a large knowledge base: the early stages match few articles and are cheap
        to rank, and the last ones rank at most `RANKED` matches. Every stage goes in one
        statement (`_pg_stages_sql`), in which a stage runs only while the ones before it
        found fewer than `limit` articles, as one query per stage would.
        """
        stages = pg_stages(words)
        found = await _direct(_pg_stages_sql(len(stages), filters)).rows(
            self.session, {**params, **{f"q{n}": q for n, q in enumerate(stages)}}
        )
        by_stage: list[list[tuple[int, float]]] = [[] for _ in stages]
        for stage, article_id, score in found:
            by_stage[stage].append((article_id, float(score)))
        ranked: list[tuple[int, float]] = []
        for rows in by_stage:
            seen = {i for i, _ in ranked}
            # Below those of the stages before, whatever their score among the rest.
            floor = min((s for _, s in ranked), default=None)
            more = [(i, s if floor is None else min(s, floor)) for i, s in rows if i not in seen]
            ranked += more[: limit - len(ranked)]
            if len(ranked) >= limit:
                break
        return await self._hits(ranked)

    async def _hits(self, ranked: list[tuple[int, float]]) -> list[SearchHit]:
        if not ranked:
            return []
        # A worker's unit of work handles several messages, and the same few articles come
        # back for them: those this unit of work loaded already are not read again (the
        # search flushed first, so what the session holds is what the database has). The
        # session keeps objects only while they are referred to, so the search keeps them.
        kept = self.kept_articles
        held = self.session.sync_session.identity_map
        by_id: dict[int, KnowledgeArticle] = {}
        for i, _ in ranked:
            found = kept.get(i)
            if (
                found is not None
                and held.get(identity_key(KnowledgeArticle, i)) is found
                and not inspect(found).unloaded & _loaded()
            ):
                by_id[i] = found
        missing = [i for i, _ in ranked if i not in by_id]
        if missing:
            keys = _article_keys()
            for row in await _articles().rows(self.session, {"ids": missing}):
                article = loaded(self.session, KnowledgeArticle, dict(zip(keys, row, strict=True)))
                by_id[article.id] = article
            kept.update((i, a) for i, a in by_id.items() if i in missing)
        return [SearchHit(by_id[i], s) for i, s in ranked if i in by_id]


@cache
def _article_keys() -> tuple[str, ...]:
    """The columns `_articles` reads: all but the deferred ones, as the ORM would load."""
    # Asked on first use: reading a mapper's attributes configures every mapper.
    return tuple(p.key for p in inspect(KnowledgeArticle).column_attrs if not p.deferred)


@cache
def _articles() -> Direct:
    """Articles by id, as Core rows made into objects by `store.hotpath.loaded`.

    The ORM's load of the same rows costs several times the query, once for every batch.
    """
    table = KnowledgeArticle.__table__
    return Direct(
        select(*(table.c[k] for k in _article_keys()))
        .where(table.c.id.in_(bindparam("ids", expanding=True)))
        .execution_options(**reads("knowledge_articles"))
    )


@cache
def _loaded() -> frozenset[str]:
    """The attributes `_articles` loads: an article held with all of them needs no query."""
    return frozenset(_article_keys())


_SEARCHES: dict[str, Direct] = {}


def _pg_stages_sql(count: int, filters: str) -> str:
    """The PostgreSQL search of `count` stages (`:q0`, `:q1`, ...) as one statement.

    Each stage ranks at most `:cap` matches and keeps its best `:limit`; a stage runs only
    while the stages before it found fewer than `:limit` distinct articles (a condition on
    no row, so PostgreSQL skips the stage's scan when it is false). Rows come back as
    `(stage, id, score)`, each stage's best first.
    """
    # Only stage numbers, constants and `filters` are formatted in (as in `search_text`).
    parts = []
    for n in range(count):
        before = " UNION ALL ".join(f"SELECT id FROM s{k}" for k in range(n))  # noqa: S608
        counted = f"SELECT count(DISTINCT id) FROM ({before}) b"  # noqa: S608
        wanted = f" WHERE ({counted}) < :limit" if before else ""
        # Ranking reads each match's whole vector, so only the first `cap` matches are
        # ranked: the stages make the first matches the ones worth ranking.
        parts.append(
            f"s{n} AS (SELECT a.id, ts_rank('{TS_WEIGHTS}', a.search_vector, q, 1) AS score"  # noqa: S608
            " FROM (SELECT a.id, a.search_vector FROM knowledge_articles a"
            f" WHERE a.search_vector @@ CAST(:q{n} AS tsquery){filters} LIMIT :cap) a,"
            f" CAST(:q{n} AS tsquery) q{wanted} ORDER BY score DESC, a.id LIMIT :limit)"
        )
    rows = " UNION ALL ".join(
        f"SELECT {n} AS stage, id, score FROM s{n}"  # noqa: S608
        for n in range(count)
    )
    return f"WITH {', '.join(parts)} {rows} ORDER BY stage, score DESC, id"


def _direct(sql: str) -> Direct:
    """One statement per distinct query (a handful of filter combinations), built once.

    Straight to the driver (`store.direct`): every message searches, and SQLAlchemy's
    execution cost more than the search itself.
    """
    found = _SEARCHES.get(sql)
    if found is None:
        found = _SEARCHES[sql] = Direct(text(sql))
    return found
