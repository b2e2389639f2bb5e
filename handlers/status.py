"""Following tickets: the status of one, or a list of one's own."""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.links import is_private
from handlers.registry import registry
from handlers.tickets import card, find_ticket, summary
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role
from store.repositories import OPEN_STATUSES

_ACTIONS = {
    "created": "opened",
    "note": "note added",
    "assigned": "assigned",
    "escalated": "escalated",
    "resolved": "resolved",
    "reopened": "reopened",
    "approved": "approved",
    "rejected": "rejected",
    "status": "status changed",
}


@registry.intent(IntentName.CHECK_STATUS)
async def check_status(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Check a ticket or list yours: "status of INC-42", "my tickets"."""
    if nlu.first(EntityName.TICKET_REF) is not None or ctx.params.get("ref"):
        ticket, problem = await find_ticket(nlu, ctx, fallback=None)
        if ticket is None:
            return [problem] if problem else []
        if not is_private(ctx.address):
            # Others read this thread: the reference, the status and who has it, nothing more.
            who = ticket.assignee.name if ticket.assignee else "nobody yet"
            return [
                Reply(
                    text=f"{ticket.ref} is {ticket.status.label}; assigned to {who}.",
                    card=card(ticket),
                    ticket_ref=ticket.ref,
                )
            ]
        events = await ctx.uow.tickets.events(ticket.id)
        if not ctx.person.has_role(Role.AGENT):
            # An internal note is for the desk: a requester is not even told one was added.
            events = [e for e in events if not (e.detail or {}).get("internal")]
        last = events[-1] if events else None
        when = ""
        if last is not None:
            who = f" by {last.actor.name}" if last.actor else ""
            what = _ACTIONS.get(last.action, last.action)
            when = f" Last update: {what}{who}, {last.at.strftime('%d %b %H:%M UTC')}."
        return [
            Reply(
                text=f"{ticket.ref} is {ticket.status.label}.{when}",
                card=card(ticket),
                ticket_ref=ticket.ref,
            )
        ]
    mine = await ctx.uow.tickets.for_requester(ctx.person.id, open_only=True, limit=10)
    lines = [f"• {summary(t)}" for t in mine]
    if ctx.person.has_role(Role.AGENT):
        queue, total = await ctx.uow.tickets.search(
            assignee_id=ctx.person.id, limit=10, status=OPEN_STATUSES
        )
        if queue:
            lines.append(f"Assigned to you ({total}):")
            lines.extend(f"• {summary(t)}" for t in queue)
    if not lines:
        return [Reply(text="You have no open tickets. Tell me if something's wrong.")]
    head = f"Your open tickets ({len(mine)}):" if mine else "You have no open tickets of your own."
    if not is_private(ctx.address):
        # One person's tickets are their own business, even when asked in a shared channel.
        return [
            Reply(text="\n".join([head, *lines]), ephemeral=True),
            Reply(text="I've sent you the details (only you can see them)."),
        ]
    return [Reply(text="\n".join([head, *lines]))]
