"""`/console`: the agents' pages. Queues by group, a ticket with its whole history and the
actions on it, the changes waiting for my decision, and the desk's dashboard.

Pages need a signed-in agent or approver (`bot.web.auth`); every form posts with the
session's form token. An action runs in one unit of work through `handlers.console`, so it
is logged and told to the requester exactly as the same step taken in chat, and what it
queued for sending is handed to the dispatcher once committed.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup

from bot.container import Container
from bot.delivery import add_outgoing
from bot.web import console_ticket as around
from bot.web.auth import csrf_protect, require_role
from bot.web.console_text import console_translator
from bot.web.live import NEWS
from bot.web.render import error_page, language, page
from channels.conversation import Address
from handlers import console as actions
from handlers import sla_state
from handlers.agent import NotAllowedError
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.improvements import (
    KPIS,
    idea_title,
    kpi_now,
    progress,
    register,
    set_measure,
    suggest,
)
from handlers.major_incidents import swarm_on_p1
from handlers.rules import lifecycle
from handlers.suppliers import MAIL_CHANNEL
from handlers.ticket_ended import ended
from store.console import (
    NO_GROUP,
    UNASSIGNED,
    VIEWS_PER_PERSON,
    QueueFilter,
    TooManyViewsError,
)
from store.enums import Decision, Priority, Role, Status, TicketKind
from store.improvements import Stage
from store.models import Person, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)
Staff = Annotated[Person, Depends(require_role("agent", "approver"))]
Approver = Annotated[Person, Depends(require_role("approver"))]
PAGE_SIZE = 50
CHOICES_TTL_SECONDS = 30.0


def _container(request: Request) -> Container:
    found: Container = request.app.state.container
    return found


def sla_class(ticket: Ticket, now: datetime) -> tuple[str, str | None]:
    """(`ok` | `warning` | `breached` | `paused` | `met` | `none`, the words) for a ticket."""
    words = sla_state.describe(ticket, now)
    if words is None or ticket.sla_name is None:
        return "none", words
    if "breached" in words:
        return "breached", words
    if words.startswith("paused"):
        return "paused", words
    if words == "met":
        return "met", words
    warned = [
        w
        for w, met in (
            (ticket.response_warn_at, ticket.responded_at),
            (ticket.resolve_warn_at, ticket.resolved_at),
        )
        if w is not None and met is None and now >= w
    ]
    return ("warning" if warned else "ok"), words


@dataclass(frozen=True, slots=True)
class Row:
    """A ticket as one line of a queue."""

    ticket: Ticket
    sla: str
    sla_words: str | None
    channel: str


def _row(ticket: Ticket, now: datetime) -> Row:
    sla, words = sla_class(ticket, now)
    return Row(ticket, sla, words, str((ticket.origin or {}).get("channel") or ""))


def _render(request: Request, person: Person, template: str, **context: Any) -> HTMLResponse:
    lang = language(request, person)
    return page(
        request,
        f"console/{template}",
        person=person,
        ct=console_translator(lang),
        now=utcnow(),
        **context,
    )


@dataclass(frozen=True, slots=True)
class Choices:
    """What the filters and the assign form offer: agents and services, as (id, name)."""

    agents: list[tuple[int, str]]
    services: list[tuple[int, str]]
    read_at: float


async def _choices(request: Request, uow: UnitOfWork) -> Choices:
    # The directory changes seldom; reading it once per process every few seconds keeps
    # two queries off every page.
    held: Choices | None = getattr(request.app.state, "console_choices", None)
    if held is not None and time.monotonic() - held.read_at < CHOICES_TTL_SECONDS:
        return held
    fresh = Choices(
        agents=await uow.console.agents(),
        services=await uow.console.services(),
        read_at=time.monotonic(),
    )
    request.app.state.console_choices = fresh
    return fresh


def _channels(c: Container) -> list[str]:
    """The channels tickets can come in on here: those switched on, and the terminal chat."""
    return sorted((set(c.channels) | {"console"}) - {"alerts"})


class BadInput(Exception):
    """A form field that cannot be used: answered with 400 and the reason."""


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
    async with _container(request).uow() as uow:
        loads = await uow.console.group_loads()
        tickets = await uow.console.queue(wanted, limit=PAGE_SIZE)
        if wanted == QueueFilter(group_id=wanted.group_id):
            total = sum(g.open for g in loads if wanted.group_id in (None, g.group_id))
        else:
            total = await uow.console.count(wanted)
        choices = await _choices(request, uow)
        rows = [_row(t, now) for t in tickets]
        views = [(v.id, v.name, v.query) for v in await uow.console.views(person.id)]
    return _render(
        request,
        person,
        "queue.html",
        section="queues",
        loads=loads,
        rows=rows,
        total=total,
        wanted=wanted,
        assignee=assignee or "",
        agents=choices.agents,
        services=choices.services,
        channels=_channels(_container(request)),
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
    async with _container(request).uow() as uow:
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
    async with _container(request).uow() as uow:
        if not await uow.console.remove_view(person.id, view_id):
            return error_page(request, 404, "no such view")
        await uow.commit()
    return RedirectResponse("/console", status_code=303)


async def _ticket(uow: UnitOfWork, ref: str) -> Ticket | None:
    if not re.fullmatch(r"(?i)(INC|REQ|PRB|CHG)-\d{1,9}", ref):
        return None
    return await uow.tickets.by_ref(ref)


def _context(uow: UnitOfWork, me: Person) -> HandlerContext:
    return HandlerContext(
        uow=uow,
        person=me,
        address=Address(channel="console", conversation="console", user=str(me.id)),
        now=utcnow(),
    )


@router.get("/tickets/{ref}", response_class=HTMLResponse)
async def ticket_page(request: Request, ref: str, person: Staff, done: str = "") -> Response:
    """A ticket: its details, the whole conversation and history, and what I may do."""
    async with _container(request).uow() as uow:
        ticket = await _ticket(uow, ref)
        if ticket is None:
            return error_page(request, 404, "no such ticket")
        me = await uow.people.get(person.id)
        assert me is not None
        refusal = await actions.refusal(ticket, _context(uow, me))
        timeline = await uow.console.timeline(ticket)
        agents = (await _choices(request, uow)).agents
        row = _row(ticket, utcnow())
        near = await around.surroundings(uow, ticket)
    mood = None
    if ticket.kind in (TicketKind.INCIDENT, TicketKind.REQUEST) and row.channel != "alerts":
        from handlers.reports import moods

        [mood] = await moods([(ticket.ref, row.channel, ticket.description or ticket.title)])
    return _render(
        request,
        person,
        "ticket.html",
        section="queues",
        row=row,
        ticket=ticket,
        timeline=timeline,
        agents=agents,
        priorities=list(Priority),
        agent=person.has_role(Role.AGENT),
        is_open=lifecycle.is_open(ticket.status),
        can_hold=lifecycle.can_move(ticket.kind, ticket.status, Status.ON_HOLD),
        can_resolve=ticket.kind is not TicketKind.CHANGE
        and lifecycle.can_move(ticket.kind, ticket.status, Status.RESOLVED),
        on_hold=ticket.status is Status.ON_HOLD,
        may_decide=refusal is None,
        done=done == "1",
        mood=mood,
        near=near,
    )


ACTIONS = frozenset(
    {
        "take",
        "give",
        "reply",
        "note",
        "priority",
        "hold",
        "resume",
        "resolve",
        "approve",
        "reject",
        "link",
        "supplier",
    }
)


@router.post("/tickets/{ref}/{action}", dependencies=[Depends(csrf_protect)])
async def act(
    request: Request,
    ref: str,
    action: str,
    person: Staff,
    text: Annotated[str, Form(max_length=4000)] = "",
    to: Annotated[str, Form(max_length=12)] = "",
    priority: Annotated[str, Form(max_length=4)] = "",
    supplier: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    """Run one action on the ticket and come back to it."""
    if action not in ACTIONS:
        return error_page(request, 404, "no such action")
    c = _container(request)
    try:
        async with c.uow() as uow:
            ticket = await _ticket(uow, ref)
            if ticket is None:
                return error_page(request, 404, "no such ticket")
            me = await uow.people.get(person.id)
            if me is None:
                return error_page(request, 403, "not in the directory")
            ctx = _context(uow, me)
            ctx.mail = MAIL_CHANNEL in c.channels
            if action == "link":
                await around.link(ctx, ticket, to)
            elif action == "supplier":
                await around.hand(ctx, ticket, supplier, text)
            else:
                await _apply(action, ticket, ctx, text=text, to=to, priority=priority)
            rows = await add_outgoing(
                uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None
            )
            await uow.flush()
            ids = [r.id for r in rows]
            ticket_ref = ticket.ref
            await uow.commit()
    except (BadInput, actions.EmptyTextError, around.LinkError) as e:
        return error_page(request, 400, str(e))
    except around.NotFoundError as e:
        return error_page(request, 404, str(e))
    except around.HandOffError as e:
        return error_page(request, 409, str(e))
    except NotAllowedError as e:
        return error_page(request, 403, str(e))
    except LifecycleError as e:
        return error_page(request, 409, str(e))
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    log.info("console.action", action=action, ticket=ticket_ref, person_id=person.id)
    return RedirectResponse(f"/console/tickets/{ticket_ref}?done=1", status_code=303)


async def _apply(
    action: str, ticket: Ticket, ctx: HandlerContext, *, text: str, to: str, priority: str
) -> None:
    if action == "take":
        actions.take(ticket, ctx)
    elif action == "give":
        other = await ctx.uow.people.get(int(to)) if to.isdigit() else None
        if other is None:
            raise BadInput("choose an agent to assign to")
        actions.give(ticket, other, ctx)
    elif action == "reply":
        actions.answer(ticket, text, ctx)
    elif action == "note":
        actions.note(ticket, text, ctx)
    elif action == "priority":
        try:
            wanted = Priority(priority.upper())
        except ValueError:
            raise BadInput("choose a priority from P1 to P5") from None
        await actions.reprioritise(ticket, wanted, text, ctx)
        await swarm_on_p1(ctx, ticket)
    elif action == "hold":
        await actions.put_on_hold(ticket, text, ctx)
    elif action == "resume":
        await actions.resume_work(ticket, ctx)
    elif action == "resolve":
        actions.resolve(ticket, text, ctx)
        await ended(ctx, ticket)
    else:
        decision = Decision.APPROVED if action == "approve" else Decision.REJECTED
        await actions.decide(ticket, decision, text, ctx)


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(request: Request, person: Approver) -> HTMLResponse:
    """Changes waiting for my decision: never my own, never one I decided."""
    now = utcnow()
    async with _container(request).uow() as uow:
        waiting = [_row(t, now) for t in await uow.console.awaiting_decision(person.id)]
    return _render(request, person, "approvals.html", section="approvals", rows=waiting)


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
    async with _container(request).uow() as uow:
        figures = await desk_figures(uow, since=until - timedelta(days=days), until=until)
    charts = [(c, Markup(c.svg())) for c in charts_of(figures)]  # noqa: S704 - escaped when drawn
    return _render(
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


LIVE_LIFETIME_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0


@router.get("/tickets/{ref}/live")
async def live(
    request: Request,
    ref: str,
    person: Staff,
    version: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """Server-sent events: `changed` when the ticket moves past `version`.

    Changes arrive as news from the process that committed them (`bot.web.live`: in-process
    when embedded, Redis pub/sub when scaled), so nothing polls the database; the version is
    read once on connecting, for a change made between the page and its stream. Each stream
    ends after a few minutes and the browser reconnects on its own.
    """
    c = _container(request)
    async with c.uow() as uow:
        ticket = await _ticket(uow, ref)
        if ticket is None:
            return error_page(request, 404, "no such ticket")
        ticket_id = ticket.id
    lang = language(request, person)
    t = console_translator(lang)

    def changed(seen: int, status: Status | str | None) -> str:
        words = t(f"status.{Status(status).value}") if status else ""
        data = {"ref": ref.upper(), "version": seen, "status": words}
        return f"event: changed\ndata: {json.dumps(data)}\n\n"

    async def current() -> tuple[int, Status] | None:
        async with c.uow() as uow:
            found = await uow.tickets.get(ticket_id)
            return (found.version, found.status) if found else None

    async def events() -> AsyncIterator[str]:
        with NEWS.subscribe(ticket_id) as news:
            yield "retry: 5000\n\n"
            seen = version
            now = await current()
            if now is not None and now[0] != seen:
                seen = now[0]
                yield changed(seen, now[1])
            ends = time.monotonic() + LIVE_LIFETIME_SECONDS
            while (left := ends - time.monotonic()) > 0:
                if await request.is_disconnected():
                    return
                try:
                    change = await asyncio.wait_for(news.get(), min(left, HEARTBEAT_SECONDS))
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if change.version is None:
                    # An event that did not move the ticket (a note, a reply): still news.
                    now = await current()
                    if now is not None:
                        seen = now[0]
                        yield changed(seen, now[1])
                elif change.version != seen:
                    seen = change.version
                    yield changed(seen, change.status)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/improvements", response_class=HTMLResponse)
async def improvements(request: Request, person: Staff) -> HTMLResponse:
    """The continual improvement register: every idea, its stage and its KPI then and now."""
    from handlers.reports import desk_figures

    until = utcnow()
    async with _container(request).uow() as uow:
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
    return _render(
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
    async with _container(request).uow() as uow:
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
    if not person.has_role(Role.AGENT):
        return error_page(request, 403, "only agents ask for suggestions")
    async with _container(request).uow() as uow:
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
    idea = text.replace("\x00", "").strip()
    if not idea_title(idea):
        return error_page(request, 400, "write the idea first")
    async with _container(request).uow() as uow:
        me = await uow.people.get(person.id)
        if me is None:
            return error_page(request, 403, "not in the directory")
        await register(_context(uow, me), idea)
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
    async with _container(request).uow() as uow:
        row = await uow.improvements.get(number)
        if row is None:
            return error_page(request, 404, "no such idea")
        row.stage = wanted.value
        row.updated_at = utcnow()
        await uow.commit()
    return RedirectResponse("/console/improvements", status_code=303)
