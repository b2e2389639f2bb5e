"""`/api/changes`: the change calendar, and the steps of a change after its approval.

`GET /api/changes/calendar?from=&to=` lists the changes whose window overlaps the range and
the freeze windows in it (JSON, or iCalendar with `format=ics`). The steps (`schedule`,
`implement`, `complete`, `close`) answer 409 when the change's stage does not allow them,
naming the steps it does; approving stays with `PATCH /api/tickets/{ref}` and its policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, Field, field_validator

from bot.api_access import Caller, container
from bot.delivery import add_outgoing
from bot.guards import without_nul
from channels.conversation import Address
from handlers import change_lifecycle as lifecycle
from handlers import problems
from handlers.change_lifecycle import ChangeError, Refused
from handlers.context import HandlerContext
from handlers.tickets import can_see
from store.changes import ChangeOutcome, ChangePlan, ChangeStage, FreezeWindow
from store.enums import ChangeType, Status
from store.models import Person, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/changes", tags=["changes"])

MAX_RANGE = timedelta(days=366)
DEFAULT_RANGE = timedelta(days=30)

Ref = Annotated[str, Path(max_length=40, pattern=r"^(?i:chg)-\d{1,12}$")]

_STATUS = {
    Refused.BAD_INPUT: status.HTTP_400_BAD_REQUEST,
    Refused.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    Refused.CONFLICT: status.HTTP_409_CONFLICT,
}


class CalendarChange(BaseModel):
    ref: str
    title: str
    type: ChangeType | None
    status: Status
    stage: ChangeStage
    start: datetime
    end: datetime
    items: list[str]
    requester: str
    collides_with: list[str]


class CalendarFreeze(BaseModel):
    name: str
    start: datetime
    end: datetime
    timezone: str
    services: list[str]
    reason: str


class Calendar(BaseModel):
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    changes: list[CalendarChange]
    freezes: list[CalendarFreeze]


class ChangeOut(BaseModel):
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
    outcome: ChangeOutcome
    note: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("note")
    @classmethod
    def _storable(cls, value: str) -> str:
        return without_nul(value)


class StandardIn(BaseModel):
    template: Annotated[str, Field(min_length=1, max_length=120)]
    start: datetime

    @field_validator("start")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time zone, like 2026-12-05T22:00:00+01:00")
        return value


def _instant(value: str | None, name: str) -> datetime | None:
    """An ISO date (midnight UTC) or an aware ISO datetime from the query string."""
    if value is None:
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
        found = datetime.fromisoformat(text)
    except ValueError as e:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, f"`{name}` must be an ISO date or datetime"
        ) from e
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    first = _instant(start, "from") or utcnow()
    last = _instant(end, "to") or first + DEFAULT_RANGE
    if last <= first:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "`to` must be after `from`")
    if last - first > MAX_RANGE:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the range may span at most 366 days")
    return first, last


async def _calendar(uow: UnitOfWork, start: datetime, end: datetime) -> Calendar:
    tickets = await uow.changes.scheduled_between(start, end)
    ids = [t.id for t in tickets]
    plans = await uow.changes.plans(ids)
    items = await uow.changes.items(ids)
    clashes = await lifecycle.calendar_collisions(uow, tickets)
    out = []
    for t in tickets:
        assert t.planned_start is not None
        assert t.planned_end is not None
        plan = plans.get(t.id)
        out.append(
            CalendarChange(
                ref=t.ref,
                title=t.title,
                type=t.change_type,
                status=t.status,
                stage=plan.stage if plan else ChangeStage.PLANNED,
                start=t.planned_start,
                end=t.planned_end,
                items=[n for _, n in items.get(t.id, [])]
                or ([t.service.name] if t.service else []),
                requester=t.requester.name,
                collides_with=clashes.get(t.ref, []),
            )
        )
    freezes = [_freeze(f) for f in await uow.changes.freezes_between(start, end)]
    return Calendar(start=start, end=end, changes=out, freezes=freezes)


def _freeze(f: FreezeWindow) -> CalendarFreeze:
    return CalendarFreeze(
        name=f.name,
        start=f.starts_at,
        end=f.ends_at,
        timezone=f.timezone,
        services=[str(s) for s in f.services],
        reason=f.reason,
    )


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics(cal: Calendar) -> str:
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Switchboard//Change calendar//EN"]

    def event(uid: str, start: datetime, end: datetime, summary: str) -> None:
        lines.extend(
            [
                "BEGIN:VEVENT",
                f"UID:{uid}@switchboard",
                f"DTSTAMP:{stamp}",
                f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}",
                f"SUMMARY:{_ics_text(summary)}",
                "END:VEVENT",
            ]
        )

    for c in cal.changes:
        event(c.ref, c.start, c.end, f"{c.ref} {c.title}")
    for f in cal.freezes:
        event(f"freeze-{f.name}", f.start, f.end, f"Freeze: {f.name}")
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


@router.get(
    "/calendar",
    response_model=Calendar,
    response_model_by_alias=True,
    summary="Changes and freeze windows in a date range",
    responses={400: {"description": "an unreadable or inverted range"}},
)
async def get_calendar(
    request: HttpRequest,
    person: Caller,
    start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
    format: Annotated[Literal["json", "ics"], Query()] = "json",
) -> Response | Calendar:
    """Scheduled changes whose window overlaps [`from`, `to`) (ISO dates or datetimes; a date
    is midnight UTC; by default the next 30 days), each with the items it touches and the
    changes it collides with, and the freeze windows in the range."""
    first, last = _range(start, end)
    async with container(request).uow() as uow:
        cal = await _calendar(uow, first, last)
    if format == "ics":
        return Response(_ics(cal), media_type="text/calendar")
    return cal


async def _change(uow: UnitOfWork, ref: str, person: Person) -> Ticket:
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


def _context(uow: UnitOfWork, person: Person) -> HandlerContext:
    return HandlerContext(
        uow=uow,
        person=person,
        address=Address(channel="api", conversation="api", user=str(person.id)),
        now=utcnow(),
    )


async def _finish(request: HttpRequest, uow: UnitOfWork, ctx: HandlerContext) -> None:
    c = container(request)
    rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
    await uow.commit()
    if rows and c.dispatcher is not None:
        c.dispatcher.kick([r.id for r in rows])


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "an unusable window or unknown item"},
    403: {"description": "not the requester or an agent; or a freeze needing another approver"},
    404: {"description": "no such change"},
    409: {"description": "the change's stage does not allow this step, or a freeze refuses it"},
}


@router.get("/{ref}", response_model=ChangeOut, summary="A change and its plan")
async def get_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    async with container(request).uow() as uow:
        ticket = await _change(uow, ref, person)
        return await _out(uow, ticket, await uow.changes.plan(ticket))


async def _me(uow: UnitOfWork, person: Person) -> Person:
    me = await uow.people.get(person.id)
    if me is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token")
    return me


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
        ctx = _context(uow, await _me(uow, person))
        try:
            plan, extra = await take(ctx, ticket)
        except ChangeError as e:
            raise HTTPException(_STATUS[e.kind], str(e)) from e
        out = await _out(uow, ticket, plan, **extra)
        await _finish(request, uow, ctx)
    return out


@router.post(
    "/{ref}/schedule", response_model=ChangeOut, summary="Schedule a change", responses=_ERRORS
)
async def schedule_change(
    request: HttpRequest, ref: Ref, body: ScheduleIn, person: Caller
) -> ChangeOut:
    """Set the window (and optionally the items touched and the back-out plan) of an approved
    change. A normal or standard change inside a freeze on one of its items is refused naming
    the freeze; an emergency change enters it when an approver other than its requester and
    earlier approvers schedules it (recorded as an approval, with a review to follow).
    Overlapping changes on the same or dependent items are flagged to both requesters."""

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        done = await lifecycle.schedule(
            ctx, ticket, body.start, body.end, items=body.items, backout_plan=body.backout_plan
        )
        return done.plan, {"collides_with": [c.ref for c in done.collisions]}

    return await _step(request, ref, person, take)


@router.post(
    "/{ref}/implement", response_model=ChangeOut, summary="Start the work", responses=_ERRORS
)
async def implement_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        return await lifecycle.implement(ctx, ticket), {}

    return await _step(request, ref, person, take)


@router.post(
    "/{ref}/complete", response_model=ChangeOut, summary="Record the outcome", responses=_ERRORS
)
async def complete_change(
    request: HttpRequest, ref: Ref, body: CompleteIn, person: Caller
) -> ChangeOut:
    """`successful`, `failed` or `backed_out`; failed, backed-out and emergency changes owe a
    review. A successful change resolves the problems (`PRB-n`) its description names."""

    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
        plan = await lifecycle.review(ctx, ticket, body.outcome, body.note)
        solved = []
        if body.outcome is ChangeOutcome.SUCCESSFUL:
            solved = [p.ref for p in await problems.resolve_by_change(ctx, ticket)]
        return plan, {"resolved_problems": solved}

    return await _step(request, ref, person, take)


@router.post("/{ref}/close", response_model=ChangeOut, summary="Close", responses=_ERRORS)
async def close_change(request: HttpRequest, ref: Ref, person: Caller) -> ChangeOut:
    async def take(ctx: HandlerContext, ticket: Ticket) -> StepResult:
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
    """A pre-approved change from `standard_changes`: approved on creation, scheduled at
    `start` for the template's duration, freezes still apply."""
    async with container(request).uow() as uow:
        ctx = _context(uow, await _me(uow, person))
        template = await lifecycle.standard_named(ctx, body.template)
        if template is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"no standard change named {body.template!r}"
            )
        try:
            done = await lifecycle.raise_standard(ctx, template, body.start)
        except ChangeError as e:
            raise HTTPException(_STATUS[e.kind], str(e)) from e
        out = await _out(
            uow, done.ticket, done.plan, collides_with=[c.ref for c in done.collisions]
        )
        await _finish(request, uow, ctx)
    return out
