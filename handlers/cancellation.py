"""Withdrawing a ticket: the requester cancels their own open request or incident.

Cancelling ends a ticket for good, so it always takes a yes first, even when the reference
was named and the intent is certain.
"""

from __future__ import annotations

from channels.conversation import Button, ButtonStyle, Reply
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.confirmations import KEEP, NO, YES
from handlers.context import HandlerContext
from handlers.incident_review import major_resolved
from handlers.registry import registry
from handlers.rules import lifecycle
from handlers.tickets import card, find_ticket, not_found
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role, Status

CANCEL_TICKET = "cancel_ticket"


@registry.intent(IntentName.CANCEL, actions=(CANCEL_TICKET,), listed=False)
async def cancel(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Withdraw a ticket you raised: "cancel REQ-12, I don't need it any more"."""
    if nlu.first(EntityName.TICKET_REF) is None and not ctx.params.get("ref"):
        return [
            Reply(
                text="There's nothing to cancel right now. To withdraw a ticket you raised, "
                'name it: "cancel REQ-12".'
            )
        ]
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    if ticket.requester_id != ctx.person.id:
        if not ctx.person.has_role(Role.AGENT):
            return [not_found(ticket.ref)]
        return [
            Reply(
                text=f"Only the person who raised {ticket.ref} can withdraw it.",
                ticket_ref=ticket.ref,
            )
        ]
    if not lifecycle.can_move(ticket.kind, ticket.status, Status.CANCELLED):
        return [
            Reply(
                text=f"{ticket.ref} is {ticket.status.label}, so it can't be cancelled.",
                ticket_ref=ticket.ref,
            )
        ]
    if not ctx.via_action:
        return [
            Reply(
                text=f"Cancel {ticket.ref} '{ticket.title}'? Nobody will work on it after that.",
                buttons=(
                    Button(
                        label=YES,
                        action=CANCEL_TICKET,
                        value=ticket.ref,
                        style=ButtonStyle.DANGER,
                    ),
                    Button(label=NO, action=KEEP, value=ticket.ref),
                ),
                ticket_ref=ticket.ref,
            )
        ]
    try:
        update_ticket(ticket, Update(status=Status.CANCELLED), ctx)
    except NotAllowedError:
        return [not_found(ticket.ref)]
    await major_resolved(ctx, ticket)
    ctx.notify(
        ticket.assignee_id,
        Reply(text=f"{ticket.ref} was cancelled by {ctx.person.name}.", ticket_ref=ticket.ref),
    )
    return [
        Reply(
            text=f"{ticket.ref} is cancelled.",
            card=card(ticket),
            ticket_ref=ticket.ref,
            replaces=True,
        )
    ]
