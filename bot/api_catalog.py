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
from bot.api_access import Caller, container
from bot.guards import without_nul
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
    """One question of an item's form: its type, whether it must be answered, its choices."""

    name: str
    label: str
    type: str
    required: bool
    choices: list[str]


class ItemOut(BaseModel):
    """A catalog item: its form, who approves it, and the tasks that fulfil it."""

    name: str
    aliases: list[str]
    category: str
    description: str
    fields: list[FieldOut]
    approval: str = Field(description="`none`, `manager`, `group` or `ci_owner`: the first step.")
    fulfilment_target: str | None
    cost: str | None
    approval_steps: list[str] = Field(
        default_factory=list, description="Who approves, step by step (`2 of security`)."
    )
    tasks: list[str] = Field(default_factory=list, description="The fulfilment tasks' names.")

    @classmethod
    def of(cls, item: CatalogItem) -> ItemOut:
        """The item as people ordering it see it."""
        from handlers import catalog

        return cls(
            name=item.name,
            aliases=[str(a) for a in item.aliases or ()],
            category=item.category,
            description=item.description,
            fields=[FieldOut(**f) for f in catalog.public_fields(item)],
            approval=catalog.first_step(item),
            fulfilment_target=item.fulfilment_target,
            cost=item.cost,
            approval_steps=catalog.step_words(item),
            tasks=[str(t.get("name") or "") for t in item.tasks or ()],
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
    """The request an order opened: its answers, who approves it and the group fulfilling it."""

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


RequestRef = Annotated[
    str, Path(pattern=r"^[Rr][Ee][Qq]-\d{1,9}$", description="The request's reference, `REQ-4`.")
]


class StepOut(BaseModel):
    """One approval step: the decisions it needs and those it has."""

    step: int
    label: str
    quorum: int
    approved: int
    rejected: int


class TaskOut(BaseModel):
    """One fulfilment task of a request, done by a group or by an automation."""

    ref: str = Field(description="`REQ-4/2`: the request and the task's place in it.")
    name: str
    group: str | None
    automation: bool
    status: str = Field(description="`waiting`, `open`, `done` or `failed`.")
    result: str
    done_at: str | None


class ProgressOut(BaseModel):
    """Where a request stands: its approval steps and its fulfilment tasks."""

    ref: str
    item: str | None
    status: str
    step: int | None = Field(description="The approval step waited on (1-based), if any.")
    approvals: list[StepOut]
    tasks: list[TaskOut]


class CompleteIn(BaseModel):
    """A task's completion, with an optional note kept as its result."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=1000)


def _refused(e: orders.OrderRefused) -> HTTPException:
    return HTTPException(e.status, e.message)


@router.get(
    "/requests/{ref}",
    response_model=ProgressOut,
    summary="A request's approvals and tasks",
    responses={404: {"description": "no such request, or not one the caller may see"}},
)
async def request_progress(request: HttpRequest, ref: RequestRef, person: Caller) -> ProgressOut:
    """Where an order stands: each approval step with its quorum, and each fulfilment task."""
    try:
        return ProgressOut(**await orders.progress(container(request), person.id, ref))
    except orders.OrderRefused as e:
        raise _refused(e) from None


@router.post(
    "/requests/{ref}/tasks/{position}/complete",
    response_model=ProgressOut,
    summary="Complete a fulfilment task",
    responses={
        403: {"description": "only agents of the task's group (or admins) may"},
        404: {"description": "no such request or task"},
        409: {"description": "the task is done already, or waits for an earlier one"},
    },
)
async def complete_task(
    request: HttpRequest,
    ref: RequestRef,
    position: Annotated[int, Path(ge=1, le=999)],
    body: CompleteIn,
    person: Caller,
) -> ProgressOut:
    """Mark a task done; the next one opens, and the last one resolves the request."""
    try:
        done = await orders.complete_task(container(request), person.id, ref, position, body.note)
    except orders.OrderRefused as e:
        raise _refused(e) from None
    return ProgressOut(**done)
