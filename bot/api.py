"""The REST API for agents and integrations: `/api/tickets`, bearer tokens, OpenAPI at `/docs`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from bot.container import Container
from bot.delivery import add_outgoing
from channels.conversation import Address
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.tickets import MISS_LIMIT, MISS_WINDOW, can_see
from store.enums import Priority, Role, Status, TicketKind
from store.models import Person, Ticket, TicketEvent
from store.types import utcnow
from store.uow import UnitOfWork

router = APIRouter(prefix="/api", tags=["tickets"])
bearer = HTTPBearer(auto_error=False, description="A token from `switchboard token create`.")


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

    @classmethod
    def of(cls, t: Ticket) -> TicketOut:
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


def container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


async def current_person(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Person:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token", challenge)
    async with container(request).uow() as uow:
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
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TicketPage:
    """Tickets the caller may see: requesters their own, agents and approvers everyone's."""
    staff = person.has_role(Role.AGENT, Role.APPROVER)
    async with container(request).uow() as uow:
        items, total = await uow.tickets.search(
            requester_id=person.id if mine or not staff else None,
            assignee_id=person.id if assigned_to_me else None,
            kind=kind,
            status=tuple(status_ or ()),
            priority=priority,
            limit=limit,
            offset=offset,
        )
        return TicketPage(total=total, items=[TicketOut.of(t) for t in items])


@router.get("/tickets/{ref}", response_model=TicketOut, summary="Get a ticket")
async def get_ticket(request: Request, ref: str, person: Caller) -> TicketOut:
    c = container(request)
    async with c.uow() as uow:
        return TicketOut.of(await _visible(c, uow, ref, person))


@router.get("/tickets/{ref}/events", response_model=list[EventOut], summary="A ticket's history")
async def ticket_events(request: Request, ref: str, person: Caller) -> list[EventOut]:
    """Every change of the ticket: who, what, when, through which channel."""
    c = container(request)
    async with c.uow() as uow:
        ticket = await _visible(c, uow, ref, person)
        return [EventOut.of(e) for e in await uow.tickets.events(ticket.id)]


@router.patch(
    "/tickets/{ref}",
    response_model=TicketOut,
    summary="Update a ticket",
    responses={403: {"description": "not allowed"}, 409: {"description": "conflict"}},
)
async def patch_ticket(request: Request, ref: str, body: TicketUpdate, person: Caller) -> TicketOut:
    """Change status, priority or assignee, or add a note; the requester is told."""
    c = container(request)
    async with c.uow() as uow:
        ticket = await _visible(c, uow, ref, person)
        assignee = None
        if body.assignee_email:
            assignee = await uow.people.by_email(body.assignee_email)
            if assignee is None:
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "no such person")
        me = await uow.people.get(person.id)
        assert me is not None
        ctx = HandlerContext(
            uow=uow,
            person=me,
            address=Address(channel="api", conversation="api", user=str(person.id)),
            now=utcnow(),
        )
        change = Update(
            status=body.status, priority=body.priority, assignee=assignee, note=body.note
        )
        try:
            update_ticket(ticket, change, ctx)
        except NotAllowedError as e:
            raise HTTPException(status.HTTP_403_FORBIDDEN, str(e)) from e
        except LifecycleError as e:
            raise HTTPException(status.HTTP_409_CONFLICT, str(e)) from e
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        ids = [r.id for r in rows]
        out = TicketOut.of(ticket)
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    return out
