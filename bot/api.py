"""The REST API for agents and integrations: `/api/tickets`, bearer tokens, OpenAPI at `/docs`.

`/api/tickets`: list, read, follow and update tickets. Who the caller is comes from
`bot.api_access`, how a ticket is shown from `bot.api_cards`; supplier hand-offs and group
queues are in `bot.api_desk`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.api_access import Caller, acting_person, caller_context, container, visible_ticket
from bot.api_cards import EventOut, TicketOut, TicketPage, extras_for
from bot.delivery import add_outgoing
from bot.guards import without_nul
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.rules import approval
from nlu.types import IntentName, Understanding
from store.enums import Priority, Role, Status, TicketKind
from store.models import Ticket

router = APIRouter(prefix="/api", tags=["tickets"])


class TicketUpdate(BaseModel):
    """Fields to change; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    priority: Priority | None = None
    assignee_email: str | None = Field(default=None, max_length=320)
    note: str | None = Field(default=None, max_length=4000)
    version: int | None = Field(
        default=None, ge=1, le=2**62, description="The version you saw; 409 if it moved on."
    )

    @field_validator("assignee_email", "note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else without_nul(value)


@router.get("/tickets", response_model=TicketPage, summary="List tickets")
async def list_tickets(
    request: Request,
    person: Caller,
    kind: TicketKind | None = None,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    mine: bool = False,
    assigned_to_me: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> TicketPage:
    """Tickets the caller may see: requesters their own, agents and approvers everyone's."""
    staff = person.has_role(Role.AGENT, Role.APPROVER)
    async with container(request).reader() as uow:
        items, total = await uow.tickets.search(
            requester_id=person.id if mine or not staff else None,
            assignee_id=person.id if assigned_to_me else None,
            kind=kind,
            status=tuple(status_ or ()),
            priority=priority,
            limit=limit,
            offset=offset,
        )
        extras = await extras_for(uow, items)
        return TicketPage(total=total, items=[TicketOut.of(t, extras) for t in items])


@router.get("/tickets/{ref}", response_model=TicketOut, summary="Get a ticket")
async def get_ticket(
    request: Request,
    response: Response,
    ref: Annotated[str, Path(max_length=40)],
    person: Caller,
) -> TicketOut:
    """The ticket; its `ETag` is the version to send back in `If-Match` when updating it."""
    c = container(request)
    async with c.reader() as uow:
        ticket = await visible_ticket(c, uow, ref, person)
        out = TicketOut.of(ticket, await extras_for(uow, [ticket]))
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/tickets/{ref}/events", response_model=list[EventOut], summary="A ticket's history")
async def ticket_events(
    request: Request, ref: Annotated[str, Path(max_length=40)], person: Caller
) -> list[EventOut]:
    """Every change of the ticket: who, what, when, through which channel."""
    c = container(request)
    async with c.reader() as uow:
        ticket = await visible_ticket(c, uow, ref, person)
        return [EventOut.of(e) for e in await uow.tickets.events(ticket.id)]


@router.patch(
    "/tickets/{ref}",
    response_model=TicketOut,
    summary="Update a ticket",
    responses={
        403: {"description": "not allowed (approvals: not an approver, or one's own change)"},
        409: {"description": "not allowed now: a stale version, or a move the ticket can't make"},
    },
)
async def patch_ticket(
    request: Request,
    response: Response,
    ref: Annotated[str, Path(max_length=40)],
    body: TicketUpdate,
    person: Caller,
    if_match: Annotated[str | None, Header(max_length=40)] = None,
) -> TicketOut:
    """Change status, priority or assignee, or add a note; the requester is told.

    Approving or rejecting a change (`status` `approved`/`rejected`) records the caller's
    decision under the approval policy. Send the version you saw (`If-Match` or `version`)
    so a concurrent change answers 409 instead of being overwritten.
    """
    # The handlers load with the first update: a web process serving only webhooks and the
    # web chat never holds them (each process pays for what it imports).
    from handlers.major_incidents import swarm_on_p1
    from handlers.ticket_ended import ended

    c = container(request)
    shown = _shown_version(if_match, body.version)
    async with c.uow() as uow:
        ticket = await visible_ticket(c, uow, ref, person)
        if shown is not None and shown != ticket.version:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{ticket.ref} is at version {ticket.version}, not {shown}; read it again",
            )
        ctx = caller_context(uow, await acting_person(uow, person), counter=c.state.tally)
        read = ticket.version
        # One request, one version: without this, a query inside the update (the clocks look
        # up their targets) would flush the first half of the change and bump it twice.
        with uow.session.no_autoflush:
            if body.status in approval.DECISIONS:
                await _decide(ticket, body, shown, ctx)
            else:
                await _update(ticket, body, ctx)
        await ended(ctx, ticket)
        # A P1 opens its swarm whichever door raised it: chat, the console or this API.
        await swarm_on_p1(ctx, ticket)
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        # A write checks the version itself (compare-and-set); a request that changed nothing
        # still has to find the version it was sent against.
        if (
            shown is not None
            and ticket.version == read
            and await uow.tickets.stored_version(ticket.id) != shown
        ):
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"{ticket.ref} changed meanwhile; read it again"
            )
        ids = [r.id for r in rows]
        out = TicketOut.of(ticket, await extras_for(uow, [ticket]))
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    response.headers["ETag"] = f'"{out.version}"'
    return out


# Who decides is a 403; when (not awaiting, decided already, an older card) is a 409.
_REFUSAL_STATUS = {
    approval.Refusal.NOT_APPROVER: status.HTTP_403_FORBIDDEN,
    approval.Refusal.OWN_CHANGE: status.HTTP_403_FORBIDDEN,
    approval.Refusal.NOT_ON_BOARD: status.HTTP_403_FORBIDDEN,
}


def _shown_version(if_match: str | None, field: int | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return field
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 18:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "If-Match must be a ticket version")
    if field is not None and field != int(tag):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "If-Match and version disagree")
    return int(tag)


def _moves(kind: TicketKind, current: Status) -> str:
    allowed = sorted(s.value for s in approval.direct_moves(kind, current))
    return ", ".join(allowed) if allowed else "none"


async def _decide(
    ticket: Ticket, body: TicketUpdate, shown: int | None, ctx: HandlerContext
) -> None:
    """A decision on a change, through the same policy and handler as a chat or a button."""
    assert body.status is not None
    if ticket.kind is not TicketKind.CHANGE:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"only changes are approved or rejected; {ticket.ref} can move to "
            f"{_moves(ticket.kind, ticket.status)}",
        )
    if body.priority is not None or body.assignee_email is not None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "a decision cannot be combined with other changes"
        )
    from handlers import changes

    refusal = await changes.decision_refusal(ctx, ticket, shown)
    if refusal is not None:
        code = _REFUSAL_STATUS.get(refusal, status.HTTP_409_CONFLICT)
        raise HTTPException(code, refusal.explain(ticket.ref))
    decide = changes.approve if body.status is Status.APPROVED else changes.reject
    text = f"{body.status.value} {ticket.ref} {body.note or ''}".strip()
    nlu = Understanding(text=text, intent=IntentName.APPROVE, confidence=1.0)
    ctx.params = {"ref": ticket.ref, **({"version": str(shown)} if shown is not None else {})}
    ctx.via_action = not body.note
    await decide(nlu, ctx)
    recorded = await ctx.uow.tickets.approvals(ticket.id)
    if not any(a.approver_id == ctx.person.id for a in recorded):
        raise HTTPException(status.HTTP_409_CONFLICT, f"{ticket.ref} was not decided; retry")


async def _update(ticket: Ticket, body: TicketUpdate, ctx: HandlerContext) -> None:
    from handlers.agent import NotAllowedError, Update, update_ticket
    from handlers.service_levels import follow_update

    before = ticket.status
    if (
        body.status is not None
        and body.status is not before
        and body.status not in approval.direct_moves(ticket.kind, before)
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{ticket.ref} cannot go from {before.label} to {body.status.label}; "
            f"allowed: {_moves(ticket.kind, ticket.status)}",
        )
    assignee = None
    if body.assignee_email:
        assignee = await ctx.uow.people.by_email(body.assignee_email)
        if assignee is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such person")
    change = Update(status=body.status, priority=body.priority, assignee=assignee, note=body.note)
    priority_before = ticket.priority
    try:
        changed = update_ticket(ticket, change, ctx)
    except NotAllowedError as e:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(e)) from e
    except LifecycleError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from e
    # Side effects of an update (assigning a new ticket starts work) obey the same rule.
    if ticket.status is not before and ticket.status not in approval.direct_moves(
        ticket.kind, before
    ):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"{ticket.ref} cannot go from {before.label} to {ticket.status.label}; "
            f"allowed: {_moves(ticket.kind, before)}",
        )
    # The clocks follow the change exactly as they do for the same change made in chat.
    await follow_update(
        ctx, ticket, status_before=before, priority_before=priority_before, changed=bool(changed)
    )
