"""Knowledge articles: versions, the services they are about, feedback, and ranked search.

Search and the full-text index are `store.knowledge_search`; this module keeps the articles,
their versions and services, and the feedback on them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.knowledge_search import IndexRow, KnowledgeSearch, write_index
from store.models import (
    KnowledgeArticle,
    KnowledgeArticleService,
    KnowledgeArticleVersion,
    KnowledgeFeedback,
    Service,
)
from store.types import utcnow


class Outcome(StrEnum):
    """What saving an article did to it."""

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


class KnowledgeRepository(KnowledgeSearch):
    """Self-service knowledge articles and their search."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.kept_articles = {}

    async def by_slug(self, slug: str) -> KnowledgeArticle | None:
        """The article with this slug, or None."""
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
        """The services an article is about, by name, sorted."""
        stmt = select(KnowledgeArticleService.service).where(
            KnowledgeArticleService.article_id == article_id
        )
        return sorted(await self.session.scalars(stmt))

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
        await write_index(
            self.session,
            [IndexRow(a, i.title, list(i.tags), i.body) for a, i in zip(ids, fresh, strict=True)],
            new=True,
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
        await write_index(self.session, [IndexRow(art.id, art.title, tags, art.body)], new=new)

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
