"""An agent's work from the console: take, give, answer, note, reprioritise, hold, resolve, decide.

Each step logs its event and queues what the requester is told, as chat does.

Every function takes a `HandlerContext` whose person is the signed-in agent and whose
address names the console, so the event log says the change came through the console.
Refusals raise `NotAllowedError` (who may not) or `LifecycleError` (not now).
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers import changes
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.context import HandlerContext
from handlers.errors import HandlerError, LifecycleError
from handlers.incidents import assign
from handlers.replies import language_of, say
from handlers.rules import approval, lifecycle
from handlers.service_levels import advance, hold, responded, restart_clock, resume
from handlers.tickets import card
from nlu.types import IntentName, Understanding
from store.enums import Decision, Priority, Role, Status, TicketKind
from store.models import Person, Ticket

MAX_TEXT = 4000


class EmptyTextError(HandlerError):
    """A reply, note or reason with nothing in it."""


def _text(value: str, what: str) -> str:
    clean = value.replace("\x00", "").strip()
    if not clean:
        raise EmptyTextError(f"write the {what} first")
    return clean[:MAX_TEXT]


def _agent(ctx: HandlerContext) -> None:
    if not ctx.person.has_role(Role.AGENT):
        raise NotAllowedError("only agents can work tickets")


def take(ticket: Ticket, ctx: HandlerContext) -> None:
    """Assign the ticket to the agent asking (a first response, as in chat)."""
    _agent(ctx)
    if not lifecycle.is_open(ticket.status):
        raise LifecycleError(f"{ticket.ref} is {ticket.status.label}")
    assign(ticket, ctx)


def give(ticket: Ticket, to: Person, ctx: HandlerContext) -> None:
    """Assign the ticket to another agent, who is told."""
    _agent(ctx)
    if to.id == ctx.person.id:
        take(ticket, ctx)
        return
    if not lifecycle.is_open(ticket.status):
        raise LifecycleError(f"{ticket.ref} is {ticket.status.label}")
    update_ticket(ticket, Update(assignee=to), ctx)


def answer(ticket: Ticket, text: str, ctx: HandlerContext) -> None:
    """Reply to the requester, on the channel and in the thread where they raised the ticket."""
    _agent(ctx)
    said = _text(text, "reply")
    ctx.log(ticket, "reply", text=said)
    ticket.updated_at = ctx.now
    responded(ticket, ctx.now)
    lang = language_of(ticket.requester, ticket)
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(lang, "console.answer", name=ctx.person.name, ref=ticket.ref, text=said),
            ticket_ref=ticket.ref,
            human=True,
        ),
    )


def note(ticket: Ticket, text: str, ctx: HandlerContext) -> None:
    """An internal note: in the log for the desk, never sent to the requester."""
    _agent(ctx)
    ctx.log(ticket, "note", text=_text(text, "note"), internal=True)
    ticket.updated_at = ctx.now


async def reprioritise(
    ticket: Ticket, priority: Priority, reason: str, ctx: HandlerContext
) -> bool:
    """Set the priority with a reason; the service-level targets follow. False if unchanged."""
    _agent(ctx)
    why = _text(reason, "reason")[:1000]
    if not update_ticket(ticket, Update(priority=priority, reason=why), ctx):
        return False
    await restart_clock(ctx, ticket)
    return True


async def put_on_hold(ticket: Ticket, reason: str, ctx: HandlerContext) -> None:
    """Wait (for the requester, a supplier, a window): the service-level clock stops."""
    _agent(ctx)
    if not lifecycle.can_move(ticket.kind, ticket.status, Status.ON_HOLD):
        raise LifecycleError(f"{ticket.ref} cannot go from {ticket.status.label} to on hold")
    before = ticket.status
    ticket.status = Status.ON_HOLD
    ticket.updated_at = ctx.now
    await hold(ctx, ticket)
    why = reason.strip()[:1000] or None
    ctx.log(ticket, "status", reason=why, **{"from": before.value, "to": Status.ON_HOLD.value})
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(
                language_of(ticket.requester, ticket),
                "console.on_hold_why" if why else "console.on_hold",
                ref=ticket.ref,
                why=why,
            ),
            ticket_ref=ticket.ref,
        ),
    )


async def resume_work(ticket: Ticket, ctx: HandlerContext) -> None:
    """Back in progress after a hold: the clock runs again."""
    _agent(ctx)
    if ticket.status is not Status.ON_HOLD:
        raise LifecycleError(f"{ticket.ref} is not on hold")
    ticket.status = Status.IN_PROGRESS
    ticket.updated_at = ctx.now
    await resume(ctx, ticket)
    ctx.log(ticket, "status", **{"from": Status.ON_HOLD.value, "to": Status.IN_PROGRESS.value})


def resolve(ticket: Ticket, text: str, ctx: HandlerContext) -> None:
    """Resolve with what was done; the requester is told and may reopen."""
    _agent(ctx)
    if ticket.kind is TicketKind.CHANGE or not lifecycle.can_move(
        ticket.kind, ticket.status, Status.RESOLVED
    ):
        raise LifecycleError(f"{ticket.ref} cannot be resolved from {ticket.status.label}")
    ticket.status = Status.RESOLVED
    ticket.resolved_at = ctx.now
    ticket.updated_at = ctx.now
    advance(ticket, ctx.now)
    said = text.strip()[:1000] or None
    ctx.log(ticket, "resolved", note=said)
    lang = language_of(ticket.requester, ticket)
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(
                lang,
                "console.resolved_why" if said else "console.resolved",
                ref=ticket.ref,
                name=ctx.person.name,
                note=said,
            ),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        ),
    )


async def refusal(ticket: Ticket, ctx: HandlerContext) -> approval.Refusal | None:
    """None when the person asking may approve or reject this change now, else why not."""
    if ticket.kind is not TicketKind.CHANGE:
        return approval.Refusal.NOT_AWAITING
    return await changes.decision_refusal(ctx, ticket)


async def decide(ticket: Ticket, decision: Decision, comment: str, ctx: HandlerContext) -> None:
    """Approve or reject a change under the approval policy (never one's own)."""
    if ticket.kind is not TicketKind.CHANGE:
        raise LifecycleError(f"{ticket.ref} is not a change")
    why = await refusal(ticket, ctx)
    if why in (
        approval.Refusal.NOT_APPROVER,
        approval.Refusal.OWN_CHANGE,
        approval.Refusal.NOT_ON_BOARD,
    ):
        raise NotAllowedError(why.explain(ticket.ref))
    if why is not None:
        raise LifecycleError(why.explain(ticket.ref))
    verb = "approve" if decision is Decision.APPROVED else "reject"
    said = comment.strip()[:1000]
    nlu = Understanding(
        text=f"{verb} {ticket.ref} {said}".strip(),
        intent=IntentName.APPROVE if decision is Decision.APPROVED else IntentName.REJECT,
        confidence=1.0,
    )
    ctx.params = {"ref": ticket.ref}
    ctx.via_action = not said
    handler = changes.approve if decision is Decision.APPROVED else changes.reject
    await handler(nlu, ctx)
