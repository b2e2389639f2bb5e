"""`/portal`: the requester's own tickets, their history, comments, new requests, knowledge.

A requester sees only tickets they raised (agents work from `/console`). What a person does
here goes through the same inbox, worker and handlers as a chat message (`bot.web.door`):
a comment is the `add_note` action, a new ticket the `file_ticket` form action.

Deflection: while the subject of a new ticket is typed, matching articles are suggested;
opening one counts `switchboard_portal_suggestions_opened_total`, and the article offers
"this solved it", which counts `switchboard_portal_deflections_total` (and a helpful
verdict on the article) instead of a ticket. A ticket filed after a suggestion was opened
counts `switchboard_portal_suggestions_not_enough_total`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import Counter

from bot.web.auth import SignedIn, container_of, csrf_protect
from bot.web.door import act, submission_id
from bot.web.i18n import Translate, translator
from bot.web.portal_progress import order_progress
from bot.web.render import error_page, language, page
from handlers import sla_state
from store.enums import Status, TicketKind
from store.models import KnowledgeArticle, Person, Ticket, TicketEvent
from store.repositories import OPEN_STATUSES
from store.types import utcnow

router = APIRouter(prefix="/portal", include_in_schema=False)

MAX_COMMENT = 4000
MAX_SUBJECT = 300
MIN_SUBJECT = 3
MAX_DESCRIPTION = 4000
MAX_QUERY = 200
LISTED = 200
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
NOT_ENOUGH = Counter(
    "switchboard_portal_suggestions_not_enough_total",
    "Tickets filed after a suggested article was opened.",
)


# -- what the pages show ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """A ticket's service-level standing: a badge class, its label, and the detail."""

    state: str
    label: str
    detail: str


def standing(ticket: Ticket, now: datetime, t: Translate) -> Standing:
    described = sla_state.describe(ticket, now)
    if described is None or described.startswith("no target"):
        return Standing("none", t("sla.none"), described or "")
    if "breached" in described:
        state = "breached"
    elif described.startswith("paused"):
        state = "paused"
    elif described == "met":
        state = "met"
    else:
        warn = [
            w
            for w, met in (
                (ticket.response_warn_at, ticket.responded_at),
                (ticket.resolve_warn_at, ticket.resolved_at),
            )
            if w is not None and met is None and now >= w
        ]
        state = "warning" if warn else "ok"
    return Standing(state, t(f"sla.{state}"), described)


def status_label(status: Status, t: Translate) -> str:
    return t(f"status.{status.value}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a ticket's timeline as the requester sees it."""

    at: datetime
    who: str
    channel: str
    what: str
    text: str


def timeline(ticket: Ticket, events: list[TicketEvent], t: Translate) -> list[Entry]:
    entries = []
    for ev in events:
        detail = ev.detail or {}
        if detail.get("internal"):
            continue  # a note for the desk only
        text = str(detail.get("text") or "")
        if ev.action == "created":
            text = ticket.description
        elif ev.action == "status" and detail.get("to"):
            text = status_label(Status(str(detail["to"])), t) if _is_status(detail["to"]) else ""
        entries.append(
            Entry(
                at=ev.at,
                who=ev.actor.name if ev.actor else t("event.system"),
                channel=ev.channel,
                what=t(f"event.{ev.action}") if f"event.{ev.action}" in _KNOWN else ev.action,
                text=text,
            )
        )
    return entries


_KNOWN = frozenset(
    f"event.{a}"
    for a in (
        "created",
        "note",
        "status",
        "assigned",
        "escalated",
        "resolved",
        "reopened",
        "approved",
        "rejected",
        "reply",
        "routed",
        "sla",
        "linked",
    )
)


def _is_status(value: Any) -> bool:
    return str(value) in {s.value for s in Status}


async def own_ticket(request: Request, person: Person, ref: str) -> Ticket | None:
    """The person's own ticket by reference; None when it is not theirs or does not exist."""
    async with container_of(request).uow() as uow:
        ticket = await uow.tickets.by_ref(ref.strip().upper())
    if ticket is None or ticket.requester_id != person.id:
        return None
    return ticket


# -- pages -----------------------------------------------------------------------------------


@router.get("")
async def tickets(
    request: Request,
    person: SignedIn,
    sent: Annotated[bool, Query()] = False,
    solved: Annotated[bool, Query()] = False,
) -> Response:
    """The person's tickets, open ones first."""
    t = translator(language(request, person))
    async with container_of(request).uow() as uow:
        rows = await uow.tickets.for_requester(person.id, open_only=False, limit=LISTED)
        _, total = await uow.tickets.search(requester_id=person.id, limit=1)
    now = utcnow()
    open_rows = [r for r in rows if r.status in OPEN_STATUSES]
    closed_rows = [r for r in rows if r.status not in OPEN_STATUSES]

    def view(r: Ticket) -> dict[str, Any]:
        return {
            "ref": r.ref,
            "title": r.title,
            "status": status_label(r.status, t),
            "priority": r.priority.value if r.priority else "",
            "sla": standing(r, now, t),
            "updated": r.updated_at,
        }

    notice = t("new.received") if sent else (t("kb.solved") if solved else "")
    return page(
        request,
        "portal/tickets.html",
        person=person,
        section="tickets",
        open_tickets=[view(r) for r in open_rows],
        closed_tickets=[view(r) for r in closed_rows],
        total=total,
        shown=len(rows),
        notice=notice,
    )


@router.get("/tickets/{ref}")
async def ticket_page(
    request: Request,
    person: SignedIn,
    ref: Annotated[str, Path(max_length=40)],
    comment: Annotated[str | None, Query(max_length=16)] = None,
    error: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """One ticket with its whole history, across channels, and a comment form."""
    ticket = await own_ticket(request, person, ref)
    if ticket is None:
        return error_page(request, 404, "", person=person)
    t = translator(language(request, person))
    async with container_of(request).uow() as uow:
        events = await uow.tickets.events(ticket.id)
    progress = await order_progress(request, person, ticket, t)
    notices = {"added": "ticket.comment.added", "pending": "ticket.comment.pending"}
    notice = t(notices[comment]) if comment in notices else ""
    problem = t("ticket.comment.empty") if error == "empty" else ""
    return page(
        request,
        "portal/ticket.html",
        person=person,
        section="tickets",
        ticket=ticket,
        kind=ticket.kind.value,
        status=status_label(ticket.status, t),
        sla=standing(ticket, utcnow(), t),
        entries=timeline(ticket, events, t),
        approvals=progress[0],
        tasks=progress[1],
        notice=notice,
        problem=problem,
        submission=uuid.uuid4().hex,
        max_comment=MAX_COMMENT,
    )


@router.post("/tickets/{ref}/comments", dependencies=[Depends(csrf_protect)])
async def add_comment(
    request: Request,
    person: SignedIn,
    ref: Annotated[str, Path(max_length=40)],
    text: Annotated[str, Form(max_length=MAX_COMMENT)] = "",
    submission: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Add a comment, as "INC-12: ..." in chat would: an event, and the assignee is told."""
    ticket = await own_ticket(request, person, ref)
    if ticket is None:
        return error_page(request, 404, "", person=person)
    note = text.replace("\x00", "").strip()
    if not note:
        return RedirectResponse(f"/portal/tickets/{ticket.ref}?error=empty", status_code=303)
    replies = await act(
        container_of(request),
        person,
        name="add_note",
        value=ticket.ref,
        params={"note": note},
        submission=submission_id(submission),
    )
    outcome = "added" if replies else "pending"
    return RedirectResponse(f"/portal/tickets/{ticket.ref}?comment={outcome}", status_code=303)


@router.get("/new")
async def new_form(
    request: Request,
    person: SignedIn,
    error: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    t = translator(language(request, person))
    return page(
        request,
        "portal/new.html",
        person=person,
        section="new",
        submission=uuid.uuid4().hex,
        problem=t("new.subject.empty") if error == "subject" else "",
        max_subject=MAX_SUBJECT,
        max_description=MAX_DESCRIPTION,
    )


@router.post("/new", dependencies=[Depends(csrf_protect)])
async def new_ticket(
    request: Request,
    person: SignedIn,
    subject: Annotated[str, Form(max_length=MAX_SUBJECT)] = "",
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION)] = "",
    kind: Annotated[str, Form(max_length=16)] = "incident",
    submission: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """File an incident or a request, as the chat's form does."""
    summary = " ".join(subject.replace("\x00", "").split())
    if not MIN_SUBJECT <= len(summary) <= MAX_SUBJECT:
        return RedirectResponse("/portal/new?error=subject", status_code=303)
    details = description.replace("\x00", "").strip()
    chosen = TicketKind.REQUEST if kind == "request" else TicketKind.INCIDENT
    sid = submission_id(submission)
    container = container_of(request)
    if await container.state.tally(_opened_key(person, sid), SUGGESTION_WINDOW, 0) > 0:
        NOT_ENOUGH.inc()
    replies = await act(
        container,
        person,
        name="file_ticket",
        params={"kind": chosen.value, "summary": summary, "description": details or summary},
        text=f"{summary}\n{details}".strip(),
        submission=sid,
    )
    ref = next((r.ticket_ref for r in replies if r.ticket_ref), None)
    if ref:
        return RedirectResponse(f"/portal/tickets/{ref}", status_code=303)
    return RedirectResponse("/portal?sent=true", status_code=303)


def _opened_key(person: Person, submission: str) -> str:
    return f"portal:suggested:{person.id}:{submission}"


# -- knowledge -------------------------------------------------------------------------------


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
    async with container_of(request).uow() as uow:
        found = await uow.knowledge.by_slug(slug)
    if found is None:
        return error_page(request, 404, "", person=person)
    suggested = submission_id(from_) if from_ else None
    if suggested is not None:
        key = _opened_key(person, suggested)
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
