"""`GET /api/changes/calendar`: the changes scheduled in a date range and the freeze windows.

Each change comes with the items it touches and the changes it collides with; the answer is
JSON, or iCalendar with `format=ics`. The console's change calendar reads the same figures
(`calendar_between`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, Field

from bot.api_access import Caller, container
from store.changes import ChangeStage, FreezeWindow
from store.enums import ChangeType, Status
from store.types import utcnow
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/changes", tags=["changes"])

MAX_RANGE = timedelta(days=366)
DEFAULT_RANGE = timedelta(days=30)


class CalendarChange(BaseModel):
    """A scheduled change: its window, what it touches, what it collides with."""

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
    """A freeze window: when, where in the world, which services, and why."""

    name: str
    start: datetime
    end: datetime
    timezone: str
    services: list[str]
    reason: str


class Calendar(BaseModel):
    """The changes and the freeze windows of a date range."""

    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    changes: list[CalendarChange]
    freezes: list[CalendarFreeze]


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


async def calendar_between(uow: UnitOfWork, start: datetime, end: datetime) -> Calendar:
    """The changes whose window overlaps [`start`, `end`), and the freezes in it."""
    from handlers import change_lifecycle as lifecycle

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
    """Scheduled changes whose window overlaps [`from`, `to`), and the freezes in the range.

    `from` and `to` are ISO dates or datetimes (a date is midnight UTC; by default the next
    30 days). Each change comes with the items it touches and the changes it collides with.
    """
    first, last = _range(start, end)
    async with container(request).uow() as uow:
        cal = await calendar_between(uow, first, last)
    if format == "ics":
        return Response(_ics(cal), media_type="text/calendar")
    return cal
