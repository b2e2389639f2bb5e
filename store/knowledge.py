"""Knowledge articles: versions, the services they are about, feedback, and ranked search.

The full-text index is written in the same transaction as the article, so a search never
sees an article without its index or an index of a body that was rolled back. On SQLite the
index is the FTS5 table `knowledge_fts` ranked by bm25; on PostgreSQL it is the `tsvector`
column `knowledge_articles.search_vector` (GIN index) ranked by `ts_rank`. Both hold terms
made by `store.segment`, so English and Chinese are indexed and queried the same way on both.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    KnowledgeArticle,
    KnowledgeArticleService,
    KnowledgeArticleVersion,
    KnowledgeFeedback,
    Service,
)
from store.segment import fts5_query, fts5_row, query_terms, tsquery_literal, tsvector_literal
from store.types import utcnow

# Field weights. bm25 multiplies a field's score; ts_rank takes one weight per label
# (D, C, B, A): the body is D, tags B, the title A.
BM25_WEIGHTS = (4.0, 2.0, 1.0)  # title, tags, body
TS_WEIGHTS = "{0.1, 0.2, 0.4, 1.0}"
RANKED = 300
"""At most this many matches of one search stage are ranked on PostgreSQL."""
MOST_TERMS_UP_TO = 6
"""Queries of up to this many terms try "all terms but one" before "any term"."""


def pg_stages(words: Sequence[str]) -> list[str]:
    """The `tsquery` of each search stage, best answers first: every term; every term but
    one; any term in a title or tags; any term anywhere."""
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


class Outcome(StrEnum):
    CREATED = "created"
    NEW_VERSION = "new version"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class ArticleInput:
    """One article as an import file states it."""

    slug: str
    title: str
    body: str
    language: str = "en"
    tags: Sequence[str] = ()
    services: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    article: KnowledgeArticle
    score: float  # higher is better; comparable only within one search


class KnowledgeRepository:
    """Self-service knowledge articles and their search."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def _sqlite(self) -> bool:
        return self.session.get_bind().dialect.name == "sqlite"

    # -- reading -------------------------------------------------------------------------

    async def by_slug(self, slug: str) -> KnowledgeArticle | None:
        stmt = select(KnowledgeArticle).where(KnowledgeArticle.slug == slug)
        return (await self.session.scalars(stmt)).first()

    async def versions(self, article_id: int) -> list[KnowledgeArticleVersion]:
        """Every version of an article, oldest first."""
        stmt = (
            select(KnowledgeArticleVersion)
            .where(KnowledgeArticleVersion.article_id == article_id)
            .order_by(KnowledgeArticleVersion.version)
        )
        return list(await self.session.scalars(stmt))

    async def services_of(self, article_id: int) -> list[str]:
        stmt = select(KnowledgeArticleService.service).where(
            KnowledgeArticleService.article_id == article_id
        )
        return sorted(await self.session.scalars(stmt))

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
            # Ranking reads each match's whole vector, so only the first `cap` matches are
            # ranked: the stages below make the first matches the ones worth ranking.
            sql = (
                f"SELECT a.id, ts_rank('{TS_WEIGHTS}', a.search_vector, q, 1) AS score"  # noqa: S608
                " FROM (SELECT a.id, a.search_vector FROM knowledge_articles a"
                f" WHERE a.search_vector @@ CAST(:q AS tsquery){filters} LIMIT :cap) a,"
                " CAST(:q AS tsquery) q ORDER BY score DESC, a.id LIMIT :limit"
            )
            return await self._pg_search(sql, words, {**params, "cap": RANKED}, limit)
        ranked = [(r[0], float(r[1])) for r in await self.session.execute(text(sql), params)]
        return await self._hits(ranked)

    async def _pg_search(
        self, sql: str, words: Sequence[str], params: dict[str, Any], limit: int
    ) -> list[SearchHit]:
        """Stage by stage, from the articles that answer the query best to the rest
        (`pg_stages`), until `limit` are found; each stage ranks below the one before.

        `ts_rank` reads the whole vector of every match, and a common term matches a good
        part of a large knowledge base: the early stages match few articles and are cheap
        to rank, and the last ones rank at most `RANKED` matches.
        """
        ranked: list[tuple[int, float]] = []
        for query in pg_stages(words):
            seen = {i for i, _ in ranked}
            # Below those of the stages before, whatever their score among the rest.
            floor = min((s for _, s in ranked), default=None)
            found = await self.session.execute(text(sql), {**params, "q": query})
            more = [
                (r[0], float(r[1]) if floor is None else min(float(r[1]), floor))
                for r in found
                if r[0] not in seen
            ]
            ranked += more[: limit - len(ranked)]
            if len(ranked) >= limit:
                break
        return await self._hits(ranked)

    async def _hits(self, ranked: list[tuple[int, float]]) -> list[SearchHit]:
        if not ranked:
            return []
        rows = await self.session.scalars(
            select(KnowledgeArticle).where(KnowledgeArticle.id.in_([i for i, _ in ranked]))
        )
        by_id = {a.id: a for a in rows}
        return [SearchHit(by_id[i], s) for i, s in ranked if i in by_id]

    # -- writing -------------------------------------------------------------------------

    async def save(self, item: ArticleInput) -> Outcome:
        """Upsert by slug: a new version when the body changes, an update for the rest."""
        services = sorted({s.strip().casefold() for s in item.services if s.strip()})
        art = await self.by_slug(item.slug)
        if art is None:
            art = KnowledgeArticle(
                slug=item.slug,
                title=item.title,
                body=item.body,
                tags=list(item.tags),
                language=item.language,
                version=1,
                service_id=await self._service_id(services),
            )
            self.session.add(art)
            await self.session.flush()
            outcome = Outcome.CREATED
        else:
            before = (art.title, art.body, list(art.tags or []), art.language)
            old_services = await self.services_of(art.id)
            after = (item.title, item.body, list(item.tags), item.language)
            if before == after and old_services == services:
                return Outcome.UNCHANGED
            outcome = Outcome.NEW_VERSION if art.body != item.body else Outcome.UPDATED
            if outcome is Outcome.NEW_VERSION:
                art.version += 1
            art.title, art.body, art.tags, art.language = after
            art.service_id = await self._service_id(services)
            art.updated_at = utcnow()
            await self.session.flush()
        if outcome is not Outcome.UPDATED:
            self.session.add(
                KnowledgeArticleVersion(
                    article_id=art.id, version=art.version, title=art.title, body=art.body
                )
            )
        if outcome is not Outcome.CREATED:
            await self.session.execute(
                delete(KnowledgeArticleService).where(KnowledgeArticleService.article_id == art.id)
            )
        if services:
            await self.session.execute(
                insert(KnowledgeArticleService),
                [{"article_id": art.id, "service": s} for s in services],
            )
        await self._index(art, new=outcome is Outcome.CREATED)
        return outcome

    async def save_many(self, items: Sequence[ArticleInput]) -> Counter[Outcome]:
        """`save` for many articles; those with new slugs go in as a few bulk statements."""
        counts: Counter[Outcome] = Counter()
        slugs = [i.slug for i in items]
        known = set(
            await self.session.scalars(
                select(KnowledgeArticle.slug).where(KnowledgeArticle.slug.in_(slugs))
            )
        )
        fresh = [i for i in items if i.slug not in known]
        for item in items:
            if item.slug in known:
                counts[await self.save(item)] += 1
        if not fresh:
            return counts
        names = {s.strip().casefold() for i in fresh for s in i.services if s.strip()}
        service_ids = {
            name.lower(): sid
            for sid, name in await self.session.execute(
                select(Service.id, Service.name).where(func.lower(Service.name).in_(names))
            )
        }
        rows = []
        for i in fresh:
            svc = sorted({s.strip().casefold() for s in i.services if s.strip()})
            rows.append(
                {
                    "slug": i.slug,
                    "title": i.title,
                    "body": i.body,
                    "tags": list(i.tags),
                    "language": i.language,
                    "version": 1,
                    "service_id": next((service_ids[s] for s in svc if s in service_ids), None),
                    "updated_at": utcnow(),
                }
            )
        ids = list(
            await self.session.scalars(
                insert(KnowledgeArticle).returning(
                    KnowledgeArticle.id, sort_by_parameter_order=True
                ),
                rows,
            )
        )
        await self.session.execute(
            insert(KnowledgeArticleVersion),
            [
                {"article_id": a, "version": 1, "title": i.title, "body": i.body}
                for a, i in zip(ids, fresh, strict=True)
            ],
        )
        links = [
            {"article_id": a, "service": s}
            for a, i in zip(ids, fresh, strict=True)
            for s in sorted({s.strip().casefold() for s in i.services if s.strip()})
        ]
        if links:
            await self.session.execute(insert(KnowledgeArticleService), links)
        if self._sqlite:
            await self.session.execute(
                text(
                    "INSERT INTO knowledge_fts (rowid, title, tags, body)"
                    " VALUES (:id, :title, :tags, :body)"
                ),
                [
                    {"id": a, **fts5_row(i.title, list(i.tags), i.body)}
                    for a, i in zip(ids, fresh, strict=True)
                ],
            )
        else:
            await self.session.execute(
                text(
                    "UPDATE knowledge_articles SET search_vector = CAST(:v AS tsvector)"
                    " WHERE id = :id"
                ),
                [
                    {"id": a, "v": tsvector_literal(i.title, list(i.tags), i.body)}
                    for a, i in zip(ids, fresh, strict=True)
                ],
            )
        counts[Outcome.CREATED] += len(fresh)
        return counts

    async def upsert(self, slug: str, **fields: Any) -> KnowledgeArticle:
        """Set fields of the article `slug` (created if new), versioned and indexed."""
        art = await self.by_slug(slug)
        if art is None:
            art = KnowledgeArticle(slug=slug, **fields)
            self.session.add(art)
            await self.session.flush()
            self.session.add(
                KnowledgeArticleVersion(
                    article_id=art.id, version=art.version, title=art.title, body=art.body
                )
            )
        else:
            new_body = "body" in fields and fields["body"] != art.body
            for k, v in fields.items():
                setattr(art, k, v)
            if new_body:
                art.version += 1
                self.session.add(
                    KnowledgeArticleVersion(
                        article_id=art.id, version=art.version, title=art.title, body=art.body
                    )
                )
        await self.session.flush()
        await self._index(art)
        return art

    async def reindex(self) -> int:
        """Rebuild the index of every article (after a change of the term rules)."""
        count = 0
        for art in await self.session.scalars(select(KnowledgeArticle)):
            await self._index(art)
            count += 1
        return count

    async def _index(self, art: KnowledgeArticle, *, new: bool = False) -> None:
        tags = [str(t) for t in art.tags or ()]
        if self._sqlite:
            if not new:
                await self.session.execute(
                    text("DELETE FROM knowledge_fts WHERE rowid = :id"), {"id": art.id}
                )
            await self.session.execute(
                text(
                    "INSERT INTO knowledge_fts (rowid, title, tags, body)"
                    " VALUES (:id, :title, :tags, :body)"
                ),
                {"id": art.id, **fts5_row(art.title, tags, art.body)},
            )
        else:
            await self.session.execute(
                text(
                    "UPDATE knowledge_articles SET search_vector = CAST(:v AS tsvector)"
                    " WHERE id = :id"
                ),
                {"id": art.id, "v": tsvector_literal(art.title, tags, art.body)},
            )

    async def _service_id(self, services: Sequence[str]) -> int | None:
        if not services:
            return None
        stmt = select(Service.id).where(func.lower(Service.name).in_(list(services)))
        return (await self.session.scalars(stmt.limit(1))).first()

    # -- feedback ------------------------------------------------------------------------

    async def record_feedback(
        self,
        article_id: int,
        *,
        helpful: bool,
        person_id: int | None = None,
        comment: str = "",
        channel: str = "",
    ) -> KnowledgeFeedback:
        """Store one verdict on an article."""
        fb = KnowledgeFeedback(
            article_id=article_id,
            person_id=person_id,
            helpful=helpful,
            comment=comment,
            channel=channel,
        )
        self.session.add(fb)
        await self.session.flush()
        return fb

    async def feedback_by_article(self, limit: int = 200) -> dict[tuple[str, bool], int]:
        """Verdicts per article slug, `{(slug, helpful): n}`, for the articles judged most."""
        most = (
            select(KnowledgeFeedback.article_id)
            .group_by(KnowledgeFeedback.article_id)
            .order_by(func.count().desc(), KnowledgeFeedback.article_id)
            .limit(limit)
        )
        stmt = (
            select(KnowledgeArticle.slug, KnowledgeFeedback.helpful, func.count())
            .join(KnowledgeArticle, KnowledgeArticle.id == KnowledgeFeedback.article_id)
            .where(KnowledgeFeedback.article_id.in_(most))
            .group_by(KnowledgeArticle.slug, KnowledgeFeedback.helpful)
        )
        return {(str(slug), bool(h)): int(n) for slug, h, n in await self.session.execute(stmt)}

    async def feedback_counts(self, article_id: int) -> tuple[int, int]:
        """(helpful, not helpful) verdicts on an article."""
        stmt = (
            select(KnowledgeFeedback.helpful, func.count())
            .where(KnowledgeFeedback.article_id == article_id)
            .group_by(KnowledgeFeedback.helpful)
        )
        counts = {bool(h): int(n) for h, n in await self.session.execute(stmt)}
        return counts.get(True, 0), counts.get(False, 0)
