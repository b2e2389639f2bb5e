"""`/portal`: the requester's own tickets, their history, comments, new requests, knowledge.

A requester sees only tickets they raised (agents work from `/console`). What a person does
here goes through the same inbox, worker and handlers as a chat message (`bot.web.door`):
a comment is the `add_note` action, a new ticket the `file_ticket` form action.

The knowledge pages and the suggestions shown while a new ticket is written are
`bot.web.portal_knowledge`; a ticket filed after a suggestion was opened counts
`switchboard_portal_suggestions_not_enough_total`. What the pages show of a ticket is
`bot.web.portal_view`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client import Counter

from bot.web.auth import SignedIn, container_of, csrf_protect
from bot.web.door import act, submission_id
from bot.web.i18n import translator
from bot.web.portal_knowledge import SUGGESTION_WINDOW, opened_key
from bot.web.portal_progress import order_progress
from bot.web.portal_view import own_ticket, standing, status_label, timeline
from bot.web.render import error_page, language, page
from store.enums import TicketKind
from store.models import Ticket
from store.repositories import OPEN_STATUSES
from store.types import utcnow

router = APIRouter(prefix="/portal", include_in_schema=False)

MAX_COMMENT = 4000
MAX_SUBJECT = 300
MIN_SUBJECT = 3
MAX_DESCRIPTION = 4000
LISTED = 200

NOT_ENOUGH = Counter(
    "switchboard_portal_suggestions_not_enough_total",
    "Tickets filed after a suggested article was opened.",
)


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
    """The form for a new incident or request."""
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
    if await container.state.tally(opened_key(person, sid), SUGGESTION_WINDOW, 0) > 0:
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
