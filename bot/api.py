"""The REST API for agents and integrations: `/api/tickets`, bearer tokens, OpenAPI at `/docs`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.container import Container
from bot.delivery import add_outgoing
from bot.guards import without_nul
from channels.conversation import Address
from handlers import changes, suppliers
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.major_incidents import swarm_on_p1
from handlers.rules import approval
from handlers.service_levels import follow_update
from handlers.sla_state import TargetState, clock_state, supplier_state
from handlers.ticket_ended import ended
from handlers.tickets import MISS_LIMIT, MISS_WINDOW, can_see
from nlu.types import IntentName, Understanding
from store.enums import Priority, Role, Status, TicketKind
from store.models import Group, Person, Supplier, SupplierHandoff, Ticket, TicketEvent
from store.types import utcnow
from store.uow import UnitOfWork

router = APIRouter(prefix="/api", tags=["tickets"])
bearer = HTTPBearer(auto_error=False, description="A token from `switchboard token create`.")


class TargetOut(BaseModel):
    """One target of a clock: the agreement's target (`4h`), when it is due, what is left."""

    target: str | None = Field(description="The target as the desk file wrote it, e.g. `4h`.")
    due_at: datetime | None
    remaining_seconds: int | None = Field(
        description="Wall time to the due instant; negative once overdue, frozen while "
        "paused, null once met."
    )
    met_at: datetime | None
    paused: bool
    breached: bool

    @classmethod
    def of(cls, state: TargetState | None) -> TargetOut | None:
        if state is None:
            return None
        return cls(
            target=state.target,
            due_at=state.due_at,
            remaining_seconds=state.remaining_seconds,
            met_at=state.met_at,
            paused=state.paused,
            breached=state.breached,
        )


class SlaOut(BaseModel):
    """The ticket's service-level agreement and its two clocks."""

    agreement: str | None
    summary: str | None = Field(description="What the ticket card shows, e.g. `met`.")
    paused: bool
    response: TargetOut | None
    resolution: TargetOut | None


class SupplierOut(BaseModel):
    """The latest hand-off to a supplier and its underpinning contract's clock."""

    name: str
    contract: str | None
    handed_at: datetime
    waiting: bool = Field(description="The ticket is open and with the supplier.")
    response: TargetOut | None
    resolution: TargetOut | None


@dataclass
class Extras:
    """What cards of several tickets share: agreements, hand-offs, suppliers' targets."""

    now: datetime
    agreements: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    handoffs: Mapping[int, SupplierHandoff] = field(default_factory=dict)
    supplier_targets: Mapping[int, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)


async def _extras(uow: UnitOfWork, tickets: Sequence[Ticket]) -> Extras:
    handoffs = await uow.desk.handoffs([t.id for t in tickets])
    supplier_targets: dict[int, Mapping[str, Mapping[str, str]]] = {}
    for h in handoffs.values():
        if h.supplier_id is not None and h.supplier_id not in supplier_targets:
            row = await uow.desk.supplier(h.supplier_id)
            supplier_targets[h.supplier_id] = (row.targets if row else None) or {}
    return Extras(
        now=utcnow(),
        agreements={r.name: r.targets or {} for r in await uow.desk.service_levels()},
        handoffs=handoffs,
        supplier_targets=supplier_targets,
    )


def _sla(t: Ticket, extras: Extras) -> SlaOut | None:
    if t.priority is None and t.sla_name is None:
        return None
    state = clock_state(t, extras.now, extras.agreements.get(t.sla_name or ""))
    return SlaOut(
        agreement=state.agreement,
        summary=state.summary,
        paused=state.paused,
        response=TargetOut.of(state.response),
        resolution=TargetOut.of(state.resolution),
    )


_ENDED = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


def _supplier(t: Ticket, extras: Extras) -> SupplierOut | None:
    h = extras.handoffs.get(t.id)
    if h is None:
        return None
    targets = extras.supplier_targets.get(h.supplier_id or 0, {})
    written = targets.get(t.priority.value if t.priority else "", {})
    response, resolution = supplier_state(h, extras.now, written, ended_at=t.resolved_at)
    return SupplierOut(
        name=h.supplier,
        contract=h.contract,
        handed_at=h.handed_at,
        waiting=h.ended_at is None and t.resolved_at is None and t.status not in _ENDED,
        response=TargetOut.of(response),
        resolution=TargetOut.of(resolution),
    )


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    ref: str
    kind: TicketKind
    title: str
    description: str
    status: Status
    priority: Priority | None
    impact: str | None
    urgency: str | None
    service: str | None
    requester: str
    requester_email: str | None
    assignee: str | None
    group: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    version: int
    sla: SlaOut | None = Field(default=None, description="Null for a ticket without priority.")
    supplier: SupplierOut | None = None

    @classmethod
    def of(cls, t: Ticket, extras: Extras | None = None) -> TicketOut:
        extras = extras or Extras(now=utcnow())
        return cls(
            ref=t.ref,
            kind=t.kind,
            title=t.title,
            description=t.description,
            status=t.status,
            priority=t.priority,
            impact=t.impact.value if t.impact else None,
            urgency=t.urgency.value if t.urgency else None,
            service=t.service.name if t.service else None,
            requester=t.requester.name,
            requester_email=t.requester.email,
            assignee=t.assignee.name if t.assignee else None,
            group=t.group.name if t.group else None,
            created_at=t.created_at,
            updated_at=t.updated_at,
            resolved_at=t.resolved_at,
            version=t.version,
            sla=_sla(t, extras),
            supplier=_supplier(t, extras),
        )


class TicketPage(BaseModel):
    total: int
    items: list[TicketOut]


class EventOut(BaseModel):
    at: datetime
    action: str
    actor: str | None
    channel: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: TicketEvent) -> EventOut:
        return cls(
            at=e.at,
            action=e.action,
            actor=e.actor.name if e.actor else None,
            channel=e.channel,
            detail=e.detail,
        )


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


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def current_person(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Person:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", challenge)
    async with container(request).reader() as uow:
        person = await uow.tokens.authenticate(credentials.credentials)
    if person is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token", challenge)
    return person


Caller = Annotated[Person, Depends(current_person)]


async def _visible(c: Container, uow: UnitOfWork, ref: str, person: Person) -> Ticket:
    staff = person.has_role(Role.AGENT, Role.APPROVER)
    misses = f"ticket-misses:{person.id}"
    if not staff and await c.state.tally(misses, MISS_WINDOW, 0) >= MISS_LIMIT:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many lookups of tickets that do not exist; try again later",
            {"Retry-After": str(MISS_WINDOW)},
        )
    ticket = await uow.tickets.by_ref(ref)
    if ticket is None or not can_see(person, ticket):
        if not staff:
            await c.state.tally(misses, MISS_WINDOW, 1)
        # The same answer whether it does not exist or is someone else's.
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no ticket {ref.upper()}")
    return ticket


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
        extras = await _extras(uow, items)
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
        ticket = await _visible(c, uow, ref, person)
        out = TicketOut.of(ticket, await _extras(uow, [ticket]))
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/tickets/{ref}/events", response_model=list[EventOut], summary="A ticket's history")
async def ticket_events(
    request: Request, ref: Annotated[str, Path(max_length=40)], person: Caller
) -> list[EventOut]:
    """Every change of the ticket: who, what, when, through which channel."""
    c = container(request)
    async with c.reader() as uow:
        ticket = await _visible(c, uow, ref, person)
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
    c = container(request)
    shown = _shown_version(if_match, body.version)
    async with c.uow() as uow:
        ticket = await _visible(c, uow, ref, person)
        if shown is not None and shown != ticket.version:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"{ticket.ref} is at version {ticket.version}, not {shown}; read it again",
            )
        me = await uow.people.get(person.id)
        if me is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
        ctx = HandlerContext(
            uow=uow,
            person=me,
            address=Address(channel="api", conversation="api", user=str(person.id)),
            now=utcnow(),
            counter=c.state.tally,
        )
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
        out = TicketOut.of(ticket, await _extras(uow, [ticket]))
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    response.headers["ETag"] = f'"{out.version}"'
    return out


class HandOffIn(BaseModel):
    """Hand the ticket to a supplier; without `supplier`, the one behind its service."""

    model_config = ConfigDict(extra="forbid")

    supplier: str | None = Field(default=None, min_length=1, max_length=120)
    note: str | None = Field(default=None, max_length=2000)

    @field_validator("supplier", "note")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else without_nul(value)


class HandOffOut(BaseModel):
    ref: str
    supplier: str
    contract: str | None
    email: str | None
    mailed: bool = Field(description="False: no mail is set up here; forward `body` yourself.")
    subject: str
    body: str
    response_due_at: datetime | None
    resolve_due_at: datetime | None


@router.post(
    "/tickets/{ref}/supplier",
    response_model=HandOffOut,
    summary="Hand a ticket to a supplier",
    responses={
        403: {"description": "not an agent"},
        404: {"description": "no such ticket or supplier"},
        409: {"description": "the ticket is not open, or has no supplier behind its service"},
    },
)
async def hand_to_supplier(
    request: Request,
    ref: Annotated[str, Path(max_length=40)],
    body: HandOffIn,
    person: Caller,
) -> HandOffOut:
    """Mail the supplier's contact (through `SMTP_URL`) and start their contract's clock."""
    c = container(request)
    if not person.has_role(Role.AGENT):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only agents hand tickets to suppliers")
    async with c.uow() as uow:
        ticket = await _visible(c, uow, ref, person)
        me = await uow.people.get(person.id)
        if me is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
        ctx = HandlerContext(
            uow=uow,
            person=me,
            address=Address(channel="api", conversation="api", user=str(person.id)),
            now=utcnow(),
            counter=c.state.tally,
            mail=suppliers.MAIL_CHANNEL in c.channels,
        )
        if body.supplier is not None and await uow.desk.named(Supplier, body.supplier) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no supplier {body.supplier!r}")
        try:
            supplier = await suppliers.find_supplier(ctx, ticket, body.supplier)
            done = await suppliers.hand_off(ctx, ticket, supplier, body.note)
        except suppliers.HandOffError as e:
            raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from e
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        ids = [r.id for r in rows]
        h = done.handoff
        out = HandOffOut(
            ref=ticket.ref,
            supplier=supplier.name,
            contract=supplier.contract,
            email=h.email,
            mailed=done.mailed,
            subject=done.subject,
            body=done.body,
            response_due_at=h.response_due_at,
            resolve_due_at=h.resolve_due_at,
        )
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    return out


class QueueOut(BaseModel):
    group: str
    total: int
    items: list[TicketOut]


@router.get(
    "/queues/{group}",
    response_model=QueueOut,
    summary="A group's queue",
    responses={403: {"description": "not an agent or approver"}, 404: {"description": "no group"}},
)
async def group_queue(
    request: Request,
    group: Annotated[str, Path(min_length=1, max_length=120)],
    person: Caller,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> QueueOut:
    """The group's open tickets: unassigned first, then by the next due time."""
    if not person.has_role(Role.AGENT, Role.APPROVER):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "queues are for agents")
    async with container(request).uow() as uow:
        found = await uow.desk.named(Group, without_nul(group))
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no group {group[:120]!r}")
        items, total = await uow.desk.queue(found.id, limit=limit, offset=offset)
        extras = await _extras(uow, items)
        return QueueOut(
            group=found.name, total=total, items=[TicketOut.of(t, extras) for t in items]
        )


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
