"""Tickets that live in a chat thread: filed from a message, edited, noted and resolved there.

A help channel's post opens a ticket whose origin is the post's thread; what happens later in
that thread (an edit of the first post, an agent's `note:`, a ✅ from an agent, a 🎫 on a
message) finds the ticket by that origin. The channel says which of these an event is.
"""

from __future__ import annotations

from dataclasses import replace

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.forms import MAX_DESCRIPTION, file_ticket
from handlers.incidents import resolve
from handlers.registry import registry
from handlers.replies import language, say
from nlu.types import Understanding
from store.enums import Role
from store.models import Person, Ticket


async def thread_ticket(ctx: HandlerContext) -> Ticket | None:
    """The ticket filed from the conversation thread the event happened in, if any."""
    address = ctx.address
    if not address.thread:
        return None
    return await ctx.uow.tickets.by_origin(address.channel, address.conversation, address.thread)


@registry.action("file_from_message")
async def file_from_message(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A message somebody marked (🎫) as a ticket for its author; once per message."""
    earlier = await thread_ticket(ctx)
    if earlier is not None:
        said = say(language(ctx, nlu), "help_channels.already", ref=earlier.ref)
        return [Reply(text=said, ticket_ref=earlier.ref, ephemeral=True)]
    replies = await file_ticket(nlu, ctx)
    filed = await thread_ticket(ctx)
    if filed is not None:
        reactor = ctx.params.get("filed_by") or None
        # The reactor filed it, the author asked: the event names the reactor as its actor
        # when the directory knows them, and keeps their platform id either way.
        known = await _reactor(ctx, reactor)
        ctx.uow.tickets.log(
            filed,
            "filed_from_message",
            actor=known,
            channel=ctx.channel,
            external_user=reactor,
            inbox_id=ctx.inbox_id,
            filed_by=reactor,
            link=ctx.params.get("link") or None,
        )
    return replies


# Slack's workspace profile vouches for the email (as for senders); nothing else here does.
_EMAIL_VOUCHED = frozenset({"slack"})


async def _reactor(ctx: HandlerContext, external_id: str | None) -> Person | None:
    """Who reacted: by their identity, else by the email their workspace vouches for."""
    if not external_id:
        return None
    known = await ctx.uow.people.by_identity(ctx.channel, external_id)
    email = ctx.params.get("filed_by_email", "")
    if known is None and email and ctx.channel in _EMAIL_VOUCHED:
        known = await ctx.uow.people.by_email(email)
    return known


@registry.action("update_description")
async def update_description(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The requester edited the post a ticket was filed from: the description follows."""
    ticket = await thread_ticket(ctx)
    text = ctx.params.get("description", "").strip()[:MAX_DESCRIPTION]
    if ticket is None or ticket.requester_id != ctx.person.id or not text:
        return []
    if text == ticket.description:
        return []
    ctx.log(ticket, "description", before=ticket.description[:MAX_DESCRIPTION], after=text)
    ticket.description = text
    ticket.updated_at = ctx.now
    return []


@registry.action("thread_note")
async def thread_note(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """`note: …` in a ticket's thread: an internal note from an agent, else added information.

    An agent's note is for the desk: it is logged as internal and nobody is notified. The
    confirmation is shown to the writer alone.
    """
    ticket = await thread_ticket(ctx)
    note = ctx.params.get("note", "").strip()
    if ticket is None or not note:
        return []
    if ctx.person.has_role(Role.AGENT):
        ctx.log(ticket, "note", text=note[:4000], internal=True)
        ticket.updated_at = ctx.now
        said = say(language(ctx, nlu), "help_channels.internal_note", ref=ticket.ref)
        return [Reply(text=said, ephemeral=True)]
    if ticket.requester_id != ctx.person.id:
        return []
    ctx.log(ticket, "note", text=note[:4000])
    ticket.updated_at = ctx.now
    said = say(language(ctx, nlu), "help_channels.added", ref=ticket.ref)
    return [Reply(text=said, ticket_ref=ticket.ref)]


@registry.action("thread_reply")
async def thread_reply(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """An agent answering in a ticket's thread: recorded on the ticket as a public reply.

    The requester reads it in the thread already, so nobody is notified; replies by other
    people in someone else's thread are theirs to have.
    """
    ticket = await thread_ticket(ctx)
    text = ctx.params.get("text", "").strip()
    if ticket is None or not text or not ctx.person.has_role(Role.AGENT):
        return []
    ctx.log(ticket, "reply", text=text[:4000], public=True)
    if ticket.responded_at is None:
        ticket.responded_at = ctx.now
    ticket.updated_at = ctx.now
    return []


@registry.action("resolve_thread")
async def resolve_thread(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """✅ from an agent on the first post of a ticket's thread resolves that ticket."""
    ticket = await thread_ticket(ctx)
    if ticket is None or not ctx.person.has_role(Role.AGENT):
        # Anybody may use ✅ for other things; only an agent's, on a ticket, means resolve.
        return []
    return await resolve(nlu, replace(ctx, params={"ref": ticket.ref}, via_action=True))
