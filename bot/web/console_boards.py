"""`/console/changes` and `/console/majors`: the change calendar and the major incidents.

Both are read-only boards for agents and approvers: the calendar reads the same figures as
`GET /api/changes/calendar` (collisions and freeze windows included), the majors board
each declared incident with its lead, its last status update and the reports linked to it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.api_changes import _calendar
from bot.web.console import Staff, _container, _render
from bot.web.render import error_page
from store.types import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)
CLOSED_SHOWN_DAYS = 7


@router.get("/changes", response_class=HTMLResponse)
async def change_calendar(
    request: Request,
    person: Staff,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    weeks: Annotated[int, Query(ge=1, le=12)] = 4,
) -> Response:
    """Scheduled changes and freeze windows, a few weeks from a day, by day."""
    try:
        first_day = date.fromisoformat(start) if start else utcnow().date()
    except ValueError:
        return error_page(request, 400, "`from` must be a date like 2026-12-07")
    first = datetime.combine(first_day, time(), tzinfo=UTC)
    last = first + timedelta(weeks=weeks)
    async with _container(request).uow() as uow:
        cal = await _calendar(uow, first, last)
    days: dict[date, list[object]] = {}
    for change in cal.changes:
        day = max(change.start, first).astimezone(UTC).date()
        days.setdefault(day, []).append(change)
    return _render(
        request,
        person,
        "changes.html",
        section="changes",
        cal=cal,
        days=sorted(days.items()),
        weeks=weeks,
        first=first_day,
        earlier=(first_day - timedelta(weeks=weeks)).isoformat(),
        later=(first_day + timedelta(weeks=weeks)).isoformat(),
    )


@router.get("/majors", response_class=HTMLResponse)
async def majors(request: Request, person: Staff) -> Response:
    """Major incidents: open ones first, then those closed in the last week."""
    since = utcnow() - timedelta(days=CLOSED_SHOWN_DAYS)
    async with _container(request).uow() as uow:
        found = await uow.console.majors(closed_since=since)
    return _render(
        request,
        person,
        "majors.html",
        section="majors",
        majors=found,
        closed_days=CLOSED_SHOWN_DAYS,
    )
