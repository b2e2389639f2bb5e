"""`/console/changes`, `/console/majors` and `/console/dashboard`: the read-only boards.

Boards for agents and approvers: the calendar reads the same figures as
`GET /api/changes/calendar` (collisions and freeze windows included), the majors board
each declared incident with its lead, its last status update and the reports linked to it,
and the dashboard the desk's figures for a period as charts drawn on the server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from bot.api_calendar import calendar_between
from bot.web.console_common import Staff, container_of, render
from bot.web.render import error_page
from store.types import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)
CLOSED_SHOWN_DAYS = 7


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    request: Request,
    person: Staff,
    since: Annotated[str, Query(max_length=4, pattern=r"^\d{1,3}d$")] = "30d",
) -> HTMLResponse:
    """The desk's figures for a period as charts drawn on the server."""
    from bot.charts import charts_of, headline
    from handlers.reports import desk_figures

    days = max(1, int(since[:-1]))
    until = utcnow()
    async with container_of(request).uow() as uow:
        figures = await desk_figures(uow, since=until - timedelta(days=days), until=until)
    charts = [(c, Markup(c.svg())) for c in charts_of(figures)]  # noqa: S704 - escaped when drawn
    return render(
        request,
        person,
        "dashboard.html",
        section="dashboard",
        days=days,
        headline=headline(figures),
        charts=charts,
        notes=figures.notes,
        negative=figures.sentiment_most_negative,
    )


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
    async with container_of(request).uow() as uow:
        cal = await calendar_between(uow, first, last)
    days: dict[date, list[object]] = {}
    for change in cal.changes:
        day = max(change.start, first).astimezone(UTC).date()
        days.setdefault(day, []).append(change)
    return render(
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
    async with container_of(request).uow() as uow:
        found = await uow.console.majors(closed_since=since)
    return render(
        request,
        person,
        "majors.html",
        section="majors",
        majors=found,
        closed_days=CLOSED_SHOWN_DAYS,
    )
