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

from bot import catalog_orders as orders
from bot.api import Caller, container
from bot.guards import without_nul
from handlers import catalog
from store.catalog import CatalogItem
from store.enums import Status

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
        return [ItemOut.of(i) for i in items if orders.may_order(i, person)]


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
    try:
        placed = await orders.place(
            container(request), person.id, item, body.answers, body.note, channel="api"
        )
    except orders.OrderRefused as e:
        detail: Any = {"error": e.message, "fields": e.fields} if e.fields else e.message
        raise HTTPException(e.status, detail) from None
    return OrderOut(
        ref=placed.ref,
        item=placed.item,
        status=placed.status,
        answers=placed.answers,
        approvers=placed.approvers,
        group=placed.group,
    )
