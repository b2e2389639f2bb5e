"""Withdrawing a ticket: the requester cancels their own open request or incident.

Cancelling ends a ticket for good, so it always takes a yes first, even when the reference
was named and the intent is certain.
"""

from __future__ import annotations

from channels.conversation import Button, ButtonStyle, Reply
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.confirmations import KEEP
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, language_of, say, status_label
from handlers.rules import lifecycle
from handlers.ticket_ended import ended
from handlers.tickets import card, find_ticket, not_found
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role, Status

CANCEL_TICKET = "cancel_ticket"


@registry.intent(IntentName.CANCEL, actions=(CANCEL_TICKET,), listed=False)
async def cancel(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Withdraw a ticket you raised: "cancel REQ-12, I don't need it any more"."""
    lang = language(ctx, nlu)
    if nlu.first(EntityName.TICKET_REF) is None and not ctx.params.get("ref"):
        return [Reply(text=say(lang, "cancel.name_it"))]
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    if ticket.requester_id != ctx.person.id:
        if not ctx.person.has_role(Role.AGENT):
            return [not_found(ticket.ref, ctx)]
        return [
            Reply(
                text=say(lang, "cancel.requester_only", ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        ]
    if not lifecycle.can_move(ticket.kind, ticket.status, Status.CANCELLED):
        return [
            Reply(
                text=say(
                    lang, "cancel.cannot", ref=ticket.ref, status=status_label(ticket.status, lang)
                ),
                ticket_ref=ticket.ref,
            )
        ]
    if not ctx.via_action:
        return [
            Reply(
                text=say(lang, "cancel.ask", ref=ticket.ref, title=ticket.title),
                buttons=(
                    Button(
                        label=say(lang, "confirm.yes"),
                        action=CANCEL_TICKET,
                        value=ticket.ref,
                        style=ButtonStyle.DANGER,
                    ),
                    Button(label=say(lang, "confirm.no"), action=KEEP, value=ticket.ref),
                ),
                ticket_ref=ticket.ref,
            )
        ]
    try:
        update_ticket(ticket, Update(status=Status.CANCELLED), ctx)
    except NotAllowedError:
        return [not_found(ticket.ref, ctx)]
    await ended(ctx, ticket)
    ctx.notify(
        ticket.assignee_id,
        Reply(
            text=say(
                language_of(ticket.assignee),
                "cancel.told_assignee",
                ref=ticket.ref,
                name=ctx.person.name,
            ),
            ticket_ref=ticket.ref,
        ),
    )
    return [
        Reply(
            text=say(lang, "cancel.done", ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
            replaces=True,
        )
    ]
