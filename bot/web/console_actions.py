"""`/console/tickets/{ref}`: a ticket with its whole history, and the actions on it.

An action runs in one unit of work through `handlers.console`, so it is logged and told to
the requester exactly as the same step taken in chat, and what it queued for sending is
handed to the dispatcher once committed.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.delivery import add_outgoing
from bot.web import console_ticket as around
from bot.web.auth import csrf_protect
from bot.web.console_common import (
    BadInput,
    Staff,
    choices,
    container_of,
    context_for,
    find_ticket,
    render,
    row_of,
)
from bot.web.render import error_page
from handlers.context import HandlerContext
from handlers.errors import LifecycleError
from handlers.rules import lifecycle
from store.enums import Decision, Priority, Role, Status, TicketKind
from store.models import Ticket
from store.types import utcnow

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/tickets/{ref}", response_class=HTMLResponse)
async def ticket_page(request: Request, ref: str, person: Staff, done: str = "") -> Response:
    """A ticket: its details, the whole conversation and history, and what I may do."""
    # The handlers load with the console's first ticket page: a web process serving only
    # webhooks and the web chat never holds them.
    from handlers import console as actions

    async with container_of(request).uow() as uow:
        ticket = await find_ticket(uow, ref)
        if ticket is None:
            return error_page(request, 404, "no such ticket")
        me = await uow.people.get(person.id)
        assert me is not None
        refusal = await actions.refusal(ticket, context_for(uow, me))
        timeline = await uow.console.timeline(ticket)
        agents = (await choices(request, uow)).agents
        row = row_of(ticket, utcnow())
        near = await around.surroundings(uow, ticket)
    mood = None
    if ticket.kind in (TicketKind.INCIDENT, TicketKind.REQUEST) and row.channel != "alerts":
        from handlers.reports import moods

        [mood] = await moods([(ticket.ref, row.channel, ticket.description or ticket.title)])
    return render(
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
    from handlers import console as actions
    from handlers.agent import NotAllowedError
    from handlers.suppliers import MAIL_CHANNEL, HandOffError

    if action not in ACTIONS:
        return error_page(request, 404, "no such action")
    c = container_of(request)
    try:
        async with c.uow() as uow:
            ticket = await find_ticket(uow, ref)
            if ticket is None:
                return error_page(request, 404, "no such ticket")
            me = await uow.people.get(person.id)
            if me is None:
                return error_page(request, 403, "not in the directory")
            ctx = context_for(uow, me)
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
    except HandOffError as e:
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
    from handlers import console as actions
    from handlers.major_incidents import swarm_on_p1
    from handlers.ticket_ended import ended

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
