"""`/console/improvements`: the continual improvement register.

Every idea with its stage and its KPI then and now; agents propose ideas, move them through
the stages, measure them by a KPI and ask the bot for suggestions from the desk's figures.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.web.auth import csrf_protect
from bot.web.console_common import BadInput, Staff, container_of, context_for, render
from bot.web.render import error_page
from store.enums import Role
from store.improvements import Stage
from store.types import utcnow

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/improvements", response_class=HTMLResponse)
async def improvements(request: Request, person: Staff) -> HTMLResponse:
    """The continual improvement register: every idea, its stage and its KPI then and now."""
    from handlers.improvements import KPIS, kpi_now, progress
    from handlers.reports import desk_figures

    until = utcnow()
    async with container_of(request).uow() as uow:
        ideas = await uow.improvements.listing()
        figures: dict[str, Any] = {}
        if any(i.kpi for i in ideas):
            found = await desk_figures(uow, since=until - timedelta(days=30), until=until)
            figures = found.to_json()
    measured = {
        i.id: (KPIS[i.kpi], kpi_now(figures, i.kpi), progress(i, kpi_now(figures, i.kpi)))
        for i in ideas
        if i.kpi in KPIS
    }
    return render(
        request,
        person,
        "improvements.html",
        section="improvements",
        ideas=ideas,
        stages=list(Stage),
        agent=person.has_role(Role.AGENT),
        kpis=list(KPIS.values()),
        measured=measured,
    )


def _number(text: str, what: str) -> float | None:
    clean = text.strip().replace(",", ".")
    if not clean:
        return None
    try:
        value = float(clean)
    except ValueError:
        raise BadInput(f"{what} must be a number") from None
    if value != value or abs(value) > 1e12:
        raise BadInput(f"{what} must be a number")
    return value


@router.post("/improvements/{number}/kpi", dependencies=[Depends(csrf_protect)])
async def measure_idea(
    request: Request,
    number: Annotated[int, Path(ge=1, le=2**31)],
    person: Staff,
    kpi: Annotated[str, Form(max_length=60)] = "",
    baseline: Annotated[str, Form(max_length=30)] = "",
    target: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """Measure an idea by a KPI: baseline (blank: the figure now) and target (agents)."""
    from handlers.improvements import KPIS, kpi_now, set_measure
    from handlers.reports import desk_figures

    if not person.has_role(Role.AGENT):
        return error_page(request, 403, "only agents set an idea's measure")
    if kpi not in KPIS:
        return error_page(request, 400, "choose a KPI")
    try:
        base = _number(baseline, "the baseline")
        wanted = _number(target, "the target")
    except BadInput as e:
        return error_page(request, 400, str(e))
    if wanted is None:
        return error_page(request, 400, "give the target")
    until = utcnow()
    async with container_of(request).uow() as uow:
        row = await uow.improvements.get(number)
        if row is None:
            return error_page(request, 404, "no such idea")
        if base is None:
            found = await desk_figures(uow, since=until - timedelta(days=30), until=until)
            base = kpi_now(found.to_json(), kpi)
        set_measure(row, kpi, base, wanted, until)
        await uow.commit()
    return RedirectResponse("/console/improvements", status_code=303)


@router.post("/improvements/suggest", dependencies=[Depends(csrf_protect)])
async def suggest_ideas(request: Request, person: Staff) -> Response:
    """Let the bot propose improvements from the last 30 days' data (agents)."""
    from handlers.improvements import suggest

    if not person.has_role(Role.AGENT):
        return error_page(request, 403, "only agents ask for suggestions")
    async with container_of(request).uow() as uow:
        added = await suggest(uow, utcnow())
        await uow.commit()
    log.info("console.suggested", added=len(added), person_id=person.id)
    return RedirectResponse(f"/console/improvements?suggested={len(added)}", status_code=303)


@router.post("/improvements", dependencies=[Depends(csrf_protect)])
async def propose(
    request: Request,
    person: Staff,
    text: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Put an idea in the register from the console."""
    from handlers.improvements import idea_title, register

    idea = text.replace("\x00", "").strip()
    if not idea_title(idea):
        return error_page(request, 400, "write the idea first")
    async with container_of(request).uow() as uow:
        me = await uow.people.get(person.id)
        if me is None:
            return error_page(request, 403, "not in the directory")
        await register(context_for(uow, me), idea)
        await uow.commit()
    return RedirectResponse("/console/improvements", status_code=303)


@router.post("/improvements/{number}/stage", dependencies=[Depends(csrf_protect)])
async def move_idea(
    request: Request,
    number: int,
    person: Staff,
    stage: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Move an idea to another stage (agents)."""
    if not person.has_role(Role.AGENT):
        return error_page(request, 403, "only agents move ideas through the register")
    try:
        wanted = Stage(stage)
    except ValueError:
        return error_page(request, 400, "choose a stage")
    async with container_of(request).uow() as uow:
        row = await uow.improvements.get(number)
        if row is None:
            return error_page(request, 404, "no such idea")
        row.stage = wanted.value
        row.updated_at = utcnow()
        await uow.commit()
    return RedirectResponse("/console/improvements", status_code=303)
