"""`/console`: the agents' queues, their saved views, the changes waiting for my decision.

The other console pages live beside this one: a ticket and the actions on it
(`bot.web.console_actions`), its live stream (`bot.web.console_live`), the improvement
register (`bot.web.console_improvements`), the dashboard and the boards
(`bot.web.console_boards`); what they share is `bot.web.console_common`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.container import Container
from bot.web.auth import csrf_protect
from bot.web.console_common import (
    Approver,
    BadInput,
    Staff,
    choices,
    container_of,
    render,
    row_of,
)
from bot.web.render import error_page
from store.console import (
    NO_GROUP,
    UNASSIGNED,
    VIEWS_PER_PERSON,
    QueueFilter,
    TooManyViewsError,
)
from store.enums import Priority, TicketKind
from store.models import Person
from store.types import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)
PAGE_SIZE = 50


def _channels(c: Container) -> list[str]:
    """The channels tickets can come in on here: those switched on, and the terminal chat."""
    return sorted((set(c.channels) | {"console"}) - {"alerts"})


def _whole(value: str, name: str, *, least: int) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not least <= int(value) <= 2**31:
        raise BadInput(f"`{name}` must be a number")
    return int(value)


def _assignee(value: str | None, me: Person) -> int | str | None:
    if not value:
        return None
    if value == "me":
        return me.id
    if value == UNASSIGNED:
        return UNASSIGNED
    return int(value) if value.isdigit() else None


@router.get("", response_class=HTMLResponse)
async def queues(
    request: Request,
    person: Staff,
    group: Annotated[str, Query(max_length=10)] = "",
    kind: Annotated[str, Query(max_length=16)] = "",
    priority: Annotated[str, Query(max_length=4)] = "",
    service: Annotated[str, Query(max_length=10)] = "",
    channel: Annotated[str | None, Query(max_length=32)] = None,
    assignee: Annotated[str | None, Query(max_length=12, pattern=r"^(me|none|\d+)?$")] = None,
) -> Response:
    """Open tickets, unassigned first, with their service-level standing."""
    # The filter form sends every field, empty ones as "": empty means any.
    try:
        wanted = QueueFilter(
            group_id=_whole(group, "group", least=0),
            kind=TicketKind(kind) if kind else None,
            priority=Priority(priority.upper()) if priority else None,
            service_id=_whole(service, "service", least=1),
            channel=channel or None,
            assignee=_assignee(assignee, person),
        )
    except (BadInput, ValueError) as e:
        return error_page(request, 400, str(e) if isinstance(e, BadInput) else "unknown filter")
    now = utcnow()
    async with container_of(request).uow() as uow:
        loads = await uow.console.group_loads()
        tickets = await uow.console.queue(wanted, limit=PAGE_SIZE)
        if wanted == QueueFilter(group_id=wanted.group_id):
            total = sum(g.open for g in loads if wanted.group_id in (None, g.group_id))
        else:
            total = await uow.console.count(wanted)
        offered = await choices(request, uow)
        rows = [row_of(t, now) for t in tickets]
        views = [(v.id, v.name, v.query) for v in await uow.console.views(person.id)]
    return render(
        request,
        person,
        "queue.html",
        section="queues",
        loads=loads,
        rows=rows,
        total=total,
        wanted=wanted,
        assignee=assignee or "",
        agents=offered.agents,
        services=offered.services,
        channels=_channels(container_of(request)),
        kinds=list(TicketKind),
        priorities=list(Priority),
        no_group=NO_GROUP,
        views=views,
        view_query=_view_query(request.query_params.multi_items()),
    )


VIEW_KEYS = ("group", "kind", "priority", "service", "channel", "assignee")


def _view_query(items: Sequence[tuple[str, str]]) -> str:
    """The queue filters of a query string, in a fixed order, as a saved view keeps them."""
    held = {k: v for k, v in items if k in VIEW_KEYS and v}
    return urlencode([(k, held[k]) for k in VIEW_KEYS if k in held])


@router.post("/views", dependencies=[Depends(csrf_protect)])
async def save_view(
    request: Request,
    person: Staff,
    name: Annotated[str, Form(max_length=200)] = "",
    query: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Keep the queue's current filters under a name (the same name replaces a view)."""
    title = " ".join(name.replace("\x00", "").split())
    if not title or len(title) > 80:
        return error_page(request, 400, "name the view (up to 80 characters)")
    kept = _view_query(parse_qsl(query.lstrip("?"), keep_blank_values=False))
    async with container_of(request).uow() as uow:
        try:
            await uow.console.save_view(person.id, title, kept)
        except TooManyViewsError:
            return error_page(request, 409, f"you keep {VIEWS_PER_PERSON} views: remove one first")
        await uow.commit()
    return RedirectResponse(f"/console?{kept}" if kept else "/console", status_code=303)


@router.post("/views/{view_id}/remove", dependencies=[Depends(csrf_protect)])
async def remove_view(
    request: Request, view_id: Annotated[int, Path(ge=1, le=2**31)], person: Staff
) -> Response:
    """Forget one of my saved views."""
    async with container_of(request).uow() as uow:
        if not await uow.console.remove_view(person.id, view_id):
            return error_page(request, 404, "no such view")
        await uow.commit()
    return RedirectResponse("/console", status_code=303)


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(request: Request, person: Approver) -> HTMLResponse:
    """Changes waiting for my decision: never my own, never one I decided."""
    now = utcnow()
    async with container_of(request).uow() as uow:
        waiting = [row_of(t, now) for t in await uow.console.awaiting_decision(person.id)]
    return render(request, person, "approvals.html", section="approvals", rows=waiting)
