"""`/api/catalog`: the items a caller may order, and ordering one with its form's answers.

Any valid token reads the catalog; what it lists is what the token's person may order. An
order goes through the same handler as one placed in chat, so approval and fulfilment are
the same; answers that do not fit their fields are a 400 naming each field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.api import Caller, container
from bot.delivery import add_outgoing
from bot.guards import without_nul
from channels.conversation import Address
from handlers import catalog
from handlers.context import HandlerContext
from handlers.rules import catalog_form as form
from store.catalog import CatalogItem
from store.enums import Status
from store.types import utcnow

router = APIRouter(prefix="/api/catalog", tags=["catalog"])

ItemName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The item's name or one of its aliases.",
    ),
]


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    required: bool
    choices: list[str]


class ItemOut(BaseModel):
    name: str
    aliases: list[str]
    category: str
    description: str
    fields: list[FieldOut]
    approval: str = Field(description="`none`, `manager` or `group`.")
    fulfilment_target: str | None
    cost: str | None

    @classmethod
    def of(cls, item: CatalogItem) -> ItemOut:
        return cls(
            name=item.name,
            aliases=[str(a) for a in item.aliases or ()],
            category=item.category,
            description=item.description,
            fields=[FieldOut(**f) for f in catalog.public_fields(item)],
            approval=item.approval,
            fulfilment_target=item.fulfilment_target,
            cost=item.cost,
        )


class OrderIn(BaseModel):
    """The form's answers by field name; values are text as typed (dates as 2026-12-24)."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[Annotated[str, Field(max_length=40)], Any] = Field(
        default_factory=dict, max_length=100
    )
    note: str = Field(default="", max_length=2000)

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str) -> str:
        return without_nul(value)


class OrderOut(BaseModel):
    ref: str
    item: str
    status: Status
    answers: dict[str, str]
    approvers: list[str]
    group: str | None


@router.get("", response_model=list[ItemOut], summary="The catalog")
async def list_items(request: HttpRequest, person: Caller) -> list[ItemOut]:
    """Every item the caller may order, by category and name."""
    async with container(request).uow() as uow:
        items = await uow.catalog.items()
        return [ItemOut.of(i) for i in items if _may_order(i, person.role_set, person.organisation)]


def _may_order(item: CatalogItem, roles: Any, organisation: str | None) -> bool:
    return form.may_order(
        roles=roles,
        organisation=organisation,
        allowed_roles=[str(r) for r in item.roles or ()],
        allowed_organisations=[str(o) for o in item.organisations or ()],
    )


@router.post(
    "/{item}/requests",
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    summary="Order an item",
    responses={
        400: {"description": "answers that do not fit the form, by field"},
        403: {"description": "the caller may not order this item"},
        404: {"description": "no such item"},
    },
)
async def order(request: HttpRequest, item: ItemName, body: OrderIn, person: Caller) -> OrderOut:
    """Open a service request for the item; it goes to approval or straight to fulfilment."""
    c = container(request)
    async with c.uow() as uow:
        found = await uow.catalog.find(item)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no catalog item {item!r}")
        me = await uow.people.get(person.id)
        if me is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
        if not _may_order(found, me.role_set, me.organisation):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"you may not order {found.name}")
        answers = {
            without_nul(k): without_nul(v) if isinstance(v, str) else v
            for k, v in body.answers.items()
        }
        values, errors = form.check_all(form.fields_of(found.fields or ()), answers)
        if errors:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                {"error": "the answers do not fit the form", "fields": errors},
            )
        ctx = HandlerContext(
            uow=uow,
            person=me,
            address=Address(channel="api", conversation="api", user=str(me.id)),
            now=utcnow(),
            counter=c.state.tally,
        )
        ticket = await catalog.place_order(ctx, found, values, body.note)
        placed = await uow.catalog.request_of(ticket.id)
        approvers = (
            [p.name for p in await catalog.approvers(ctx, placed)]
            if placed is not None and ticket.status is Status.AWAITING_APPROVAL
            else []
        )
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        out = OrderOut(
            ref=ticket.ref,
            item=found.name,
            status=ticket.status,
            answers=values,
            approvers=approvers,
            group=ticket.group.name if ticket.group else None,
        )
        ids = [r.id for r in rows]
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    return out
