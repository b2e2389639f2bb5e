"""Passing a conversation the bot cannot follow to the service desk, instead of looping."""

from __future__ import annotations

from collections.abc import Sequence

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.replies import language, say
from handlers.routing import place
from handlers.service_levels import note_clock
from handlers.tickets import card, open_ticket, title_from
from store.enums import Level, TicketKind


async def hand_over(ctx: HandlerContext, transcript: Sequence[str]) -> list[Reply]:
    """Open a ticket with the conversation attached and tell the person the desk has it."""
    said = [line.strip() for line in transcript if line.strip()]
    body = "\n".join(f"> {line[:1000]}" for line in said[-10:])
    ticket = await open_ticket(
        ctx,
        clock=True,
        kind=TicketKind.INCIDENT,
        title=title_from(said[0]) if said else "Conversation passed to the desk",
        description=f"The bot could not understand this conversation:\n{body}",
        service=None,
        impact=Level.LOW,
        urgency=Level.MEDIUM,
        log={"handover": True},
    )
    await place(ctx, ticket, None)
    note_clock(ctx, ticket)
    return [
        Reply(
            text=say(language(ctx), "handover.passed", ref=ticket.ref),
            card=card(ticket, lang=language(ctx)),
            ticket_ref=ticket.ref,
        )
    ]
