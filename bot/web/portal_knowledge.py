"""`/portal/knowledge` and `/portal/suggest`: articles to read, and suggestions as one types.

Deflection: while the subject of a new ticket is typed, matching articles are suggested;
opening one counts `switchboard_portal_suggestions_opened_total`, and the article offers
"this solved it", which counts `switchboard_portal_deflections_total` (and a helpful
verdict on the article) instead of a ticket.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import Counter

from bot.web.auth import SignedIn, container_of, csrf_protect
from bot.web.door import submission_id
from bot.web.render import error_page, page
from store.models import KnowledgeArticle, Person

router = APIRouter(prefix="/portal", include_in_schema=False)

MAX_QUERY = 200
SUGGESTED = 5
SUGGESTION_WINDOW = 3600

SUGGESTIONS_OPENED = Counter(
    "switchboard_portal_suggestions_opened_total",
    "Articles opened from the suggestions shown while a new ticket was written.",
)
DEFLECTIONS = Counter(
    "switchboard_portal_deflections_total",
    "New tickets not filed because a suggested article solved the problem.",
)


def opened_key(person: Person, submission: str) -> str:
    """The counter of suggestions the person opened while writing this new ticket."""
    return f"portal:suggested:{person.id}:{submission}"


def _snippet(article: KnowledgeArticle, limit: int = 200) -> str:
    first = article.body.strip().split("\n", 1)[0]
    return first if len(first) <= limit else first[: limit - 1] + "…"


async def _search(request: Request, query: str, limit: int) -> list[KnowledgeArticle]:
    if not query.strip():
        return []
    async with container_of(request).uow() as uow:
        hits = await uow.knowledge.search_text(query[:MAX_QUERY], limit=limit)
    return [h.article for h in hits]


@router.get("/suggest")
async def suggest(
    request: Request,
    person: SignedIn,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
) -> Response:
    """Articles for what is being typed (JSON, for the new-ticket form)."""
    articles = await _search(request, q, SUGGESTED)
    return JSONResponse(
        {
            "articles": [
                {"slug": a.slug, "title": a.title, "snippet": _snippet(a)} for a in articles
            ]
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/knowledge")
async def knowledge(
    request: Request,
    person: SignedIn,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
) -> Response:
    """Search the knowledge base."""
    articles = await _search(request, q, 20)
    return page(
        request,
        "portal/knowledge.html",
        person=person,
        section="knowledge",
        query=q,
        articles=[{"slug": a.slug, "title": a.title, "snippet": _snippet(a)} for a in articles],
    )


@router.get("/knowledge/{slug}")
async def article(
    request: Request,
    person: SignedIn,
    slug: Annotated[str, Path(max_length=120)],
    from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> Response:
    """One article; opened from a suggestion, it offers "this solved it"."""
    async with container_of(request).uow() as uow:
        found = await uow.knowledge.by_slug(slug)
    if found is None:
        return error_page(request, 404, "", person=person)
    suggested = submission_id(from_) if from_ else None
    if suggested is not None:
        key = opened_key(person, suggested)
        if await container_of(request).state.tally(key, SUGGESTION_WINDOW, 1) == 1:
            SUGGESTIONS_OPENED.inc()
    return page(
        request,
        "portal/article.html",
        person=person,
        section="knowledge",
        article=found,
        suggested=suggested,
    )


@router.post("/knowledge/{slug}/solved", dependencies=[Depends(csrf_protect)])
async def solved(
    request: Request,
    person: SignedIn,
    slug: Annotated[str, Path(max_length=120)],
) -> Response:
    """The article answered it: no ticket, a helpful verdict, a deflection counted."""
    async with container_of(request).uow() as uow:
        found = await uow.knowledge.by_slug(slug)
        if found is None:
            return error_page(request, 404, "", person=person)
        await uow.knowledge.record_feedback(
            found.id, helpful=True, person_id=person.id, channel="portal"
        )
        await uow.commit()
    DEFLECTIONS.inc()
    return RedirectResponse("/portal?solved=true", status_code=303)
