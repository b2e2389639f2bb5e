"""`/api/tickets/{ref}/supplier` and `/api/queues/{group}`: the desk's work on tickets.

Handing a ticket to a supplier mails their contact and starts their contract's clock, as
chat's "hand INC-7 to NetCo" does; a group's queue lists its open tickets for agents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.api_access import Caller, acting_person, caller_context, container, visible_ticket
from bot.api_cards import TicketOut, extras_for
from bot.delivery import add_outgoing
from bot.guards import without_nul
from store.enums import Role
from store.models import Group, Supplier

router = APIRouter(prefix="/api", tags=["tickets"])


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
    """The hand-off made: to whom, the mail sent (or to forward), the supplier's due times."""

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
    from handlers import suppliers

    c = container(request)
    if not person.has_role(Role.AGENT):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only agents hand tickets to suppliers")
    async with c.uow() as uow:
        ticket = await visible_ticket(c, uow, ref, person)
        ctx = caller_context(
            uow,
            await acting_person(uow, person),
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
    """One page of a group's open tickets, and how many there are in all."""

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
        extras = await extras_for(uow, items)
        return QueueOut(
            group=found.name, total=total, items=[TicketOut.of(t, extras) for t in items]
        )
