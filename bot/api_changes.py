"""`/api/changes`: a change and the steps it takes after its approval.

The steps (`schedule`, `implement`, `complete`, `close`) answer 409 when the change's stage
does not allow them, naming the steps it does; approving stays with `PATCH /api/tickets/{ref}`
and its policy. The change calendar, `GET /api/changes/calendar`, is `bot.api_calendar`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, Field, field_validator

from bot.api_access import Caller, acting_person, caller_context, container, finish
from bot.guards import without_nul
from handlers.change_refusals import ChangeError, Refused
from handlers.context import HandlerContext
from store.changes import ChangeOutcome, ChangePlan, ChangeStage
from store.enums import ChangeType, Status
from store.models import Person, Ticket
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/changes", tags=["changes"])

Ref = Annotated[str, Path(max_length=40, pattern=r"^(?i:chg)-\d{1,12}$")]

REFUSAL_STATUS = {
    Refused.BAD_INPUT: status.HTTP_400_BAD_REQUEST,
    Refused.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    Refused.CONFLICT: status.HTTP_409_CONFLICT,
}


class ChangeOut(BaseModel):
    """A change and its plan: window, items, stage, outcome, and what it resolved."""

    ref: str
    title: str
    type: ChangeType | None
    status: Status
    stage: ChangeStage
    outcome: ChangeOutcome | None
    start: datetime | None
    end: datetime | None
    items: list[str]
    standard: str | None
    backout_plan: str
    review_required: bool
    freeze_override: str | None
    collides_with: list[str] = Field(default_factory=list)
    resolved_problems: list[str] = Field(default_factory=list)
    release: str | None = None
    risk: str | None = Field(
        default=None, description="Worked out when the change is scheduled; null before."
    )
    fixes: list[str] = Field(
        default_factory=list, description="Incidents and problems the request said it fixes."
    )
    version: int


class ScheduleIn(BaseModel):
    """The window of a change, and optionally the items it touches and its back-out plan."""

    start: datetime
    end: datetime
    items: list[Annotated[str, Field(min_length=1, max_length=120)]] | None = Field(
        default=None, max_length=200
    )
    backout_plan: Annotated[str | None, Field(max_length=5000)] = None

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, like 2026-12-05T22:00:00+01:00")
        return value

    @field_validator("backout_plan")
    @classmethod
    def _storable(cls, value: str | None) -> str | None:
        return None if value is None else without_nul(value)


class CompleteIn(BaseModel):
    """How the change went, with a note."""

    outcome: ChangeOutcome
    note: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str) -> str:
        return without_nul(value)


class StandardIn(BaseModel):
    """Which standard change to raise, and when it starts."""

    template: Annotated[str, Field(min_length=1, max_length=120)]
    start: datetime

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, like 2026-12-05T22:00:00+01:00")
        return value


async def _change(uow: UnitOfWork, ref: str, person: Person) -> Ticket:
    from handlers.tickets import can_see

    ticket = await uow.tickets.by_ref(ref)
    if ticket is None or not can_see(person, ticket):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no change {ref.upper()}")
    return ticket


async def _out(uow: UnitOfWork, ticket: Ticket, plan: ChangePlan, **extra: list[str]) -> ChangeOut:
    items = (await uow.changes.items([ticket.id])).get(ticket.id, [])
    release = await uow.releases.of_change(ticket.id)
    risk: str | None = None
    fixes: list[str] = []
    for e in await uow.tickets.events(ticket.id):
        detail = e.detail or {}
        if e.action == "scheduled" and isinstance(detail.get("risk"), str):
            risk = detail["risk"]
        elif e.action == "created" and isinstance(detail.get("fixes"), list):
            fixes = [str(ref) for ref in detail["fixes"]]
    return ChangeOut(
        ref=ticket.ref,
        title=ticket.title,
        type=ticket.change_type,
        status=ticket.status,
        stage=plan.stage,
        outcome=plan.outcome,
        start=ticket.planned_start,
        end=ticket.planned_end,
        items=[n for _, n in items],
        standard=plan.standard,
        backout_plan=plan.backout_plan,
        review_required=plan.review_required,
        freeze_override=plan.freeze_override,
        release=release.name if release else None,
        risk=risk,
        fixes=fixes,
        version=ticket.version,
        **extra,
    )


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "an unusable window or unknown item"},
    403: {"description": "not the requester or an agent; or a freeze needing another approver"},
    404: {"description": "no such change"},
    409: {"description": "the change's stage does not allow this step, or a freeze refuses it"},
}


@router.get("/{ref}", response_model=ChangeOut, summary="A change and its plan")
async def get_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    """The change and its plan."""
    async with container(request).uow() as uow:
        ticket = await _change(uow, ref, person)
        return await _out(uow, ticket, await uow.changes.plan(ticket))


StepResult = tuple[ChangePlan, dict[str, list[str]]]


async def _step(
    request: HttpRequest,
    ref: str,
    person: Person,
    take: Callable[[HandlerContext, Ticket], Awaitable[StepResult]],
) -> ChangeOut:
    """Take one step of a change in one transaction; a step its stage refuses is 409."""
    async with container(request).uow() as uow:
        ticket = await _change(uow, ref, person)
        ctx = caller_context(uow, await acting_person(uow, person))
        try:
            plan, extra = await take(ctx, ticket)
        except ChangeError as e:
            raise HTTPException(REFUSAL_STATUS[e.kind], str(e)) from e
        out = await _out(uow, ticket, plan, **extra)
        await finish(request, uow, ctx)
    return out


@router.post(
    "/{ref}/schedule", response_model=ChangeOut, summary="Schedule a change", responses=_ERRORS
)
async def schedule_change(
    request: HttpRequest, ref: Ref, body: ScheduleIn, person: Caller
) -> ChangeOut:
    """Set the window of an approved change, and optionally the items touched and back-out plan.

    A normal or standard change inside a freeze on one of its items is refused naming the
    freeze; an emergency change enters it when an approver other than its requester and
    earlier approvers schedules it (recorded as an approval, with a review to follow).
    Overlapping changes on the same or dependent items are flagged to both requesters.
    """

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        from handlers import change_lifecycle as lifecycle

        done = await lifecycle.schedule(
            ctx, ticket, body.start, body.end, items=body.items, backout_plan=body.backout_plan
        )
        return done.plan, {"collides_with": [c.ref for c in done.collisions]}

    return await _step(request, ref, person, take)


@router.post(
    "/{ref}/implement", response_model=ChangeOut, summary="Start the work", responses=_ERRORS
)
async def implement_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    """Start the work on the change."""

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        from handlers import change_lifecycle as lifecycle

        return await lifecycle.implement(ctx, ticket), {}

    return await _step(request, ref, person, take)


@router.post(
    "/{ref}/complete", response_model=ChangeOut, summary="Record the outcome", responses=_ERRORS
)
async def complete_change(
    request: HttpRequest, ref: Ref, body: CompleteIn, person: Caller
) -> ChangeOut:
    """Record the outcome: `successful`, `failed` or `backed_out`.

    Failed, backed-out and emergency changes owe a review. A successful change resolves the
    problems (`PRB-n`) its description names.
    """

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        from handlers import change_lifecycle as lifecycle
        from handlers import problems

        plan = await lifecycle.review(ctx, ticket, body.outcome, body.note)
        solved = []
        if body.outcome is ChangeOutcome.SUCCESSFUL:
            solved = [p.ref for p in await problems.resolve_by_change(ctx, ticket)]
        return plan, {"resolved_problems": solved}

    return await _step(request, ref, person, take)


@router.post("/{ref}/close", response_model=ChangeOut, summary="Close", responses=_ERRORS)
async def close_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    """Close the change."""

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        from handlers import change_lifecycle as lifecycle

        return await lifecycle.close(ctx, ticket), {}

    return await _step(request, ref, person, take)


@router.post(
    "",
    response_model=ChangeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Raise a standard change from its template",
    responses={**_ERRORS, 404: {"description": "no such standard change"}},
)
async def raise_standard(request: HttpRequest, body: StandardIn, person: Caller) -> ChangeOut:
    """A pre-approved change from `standard_changes`, approved on creation.

    It is scheduled at `start` for the template's duration; freezes still apply.
    """
    from handlers import change_lifecycle as lifecycle

    async with container(request).uow() as uow:
        ctx = caller_context(uow, await acting_person(uow, person))
        template = await lifecycle.standard_named(ctx, body.template)
        if template is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no standard change named {body.template!r}"
            )
        try:
            done = await lifecycle.raise_standard(ctx, template, body.start)
        except ChangeError as e:
            raise HTTPException(REFUSAL_STATUS[e.kind], str(e)) from e
        out = await _out(
            uow, done.ticket, done.plan, collides_with=[c.ref for c in done.collisions]
        )
        await finish(request, uow, ctx)
    return out
