"""Following tickets: the status of one, who has it, or a list of one's own."""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.links import is_private
from handlers.registry import registry
from handlers.replies import date_text, language, say, status_label
from handlers.tickets import card, find_ticket, not_found, summary
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role
from store.models import Ticket
from store.repositories import OPEN_STATUSES

_EVENTS = frozenset(
    {
        "created",
        "note",
        "assigned",
        "escalated",
        "resolved",
        "reopened",
        "approved",
        "rejected",
        "status",
    }
)
_WHO = re.compile(
    r"\bwho(?:'s|\s+is|\s+has|\s+got|\s+owns)?\b|\bwhich\s+(?:team|group|agent|person)\b"
    r"|\bassigned\s+to\s*\??\s*$|\bassignee\b|谁|哪个组|哪个团队|哪位|分配给了?哪",
    re.IGNORECASE,
)


def asks_who(text: str) -> bool:
    """True for "who has INC-7?", "which team is on REQ-3", "INC-7 谁在处理"."""
    return bool(_WHO.search(text))


def who_has(ticket: Ticket, lang: str) -> str:
    """Who is working on a ticket: the assignee and their group, or the queue it waits in."""
    group = ticket.group.name if ticket.group else ""
    if ticket.assignee is not None:
        of = say(lang, "who.in_group", group=group) if group else ""
        return say(lang, "who.assignee", ref=ticket.ref, name=ticket.assignee.name, group=of)
    if group:
        return say(lang, "who.queue", ref=ticket.ref, group=group)
    return say(lang, "who.nobody", ref=ticket.ref)


@registry.intent(IntentName.CHECK_STATUS)
async def check_status(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Check a ticket or list yours: "status of INC-42", "who has INC-7?", "my tickets"."""
    lang = language(ctx, nlu)
    named = nlu.first(EntityName.TICKET_REF) is not None or bool(ctx.params.get("ref"))
    if asks_who(ctx.text or nlu.text) and (named or not ctx.person.has_role(Role.AGENT)):
        return await _who(nlu, ctx, lang, named=named)
    if named:
        ticket, problem = await find_ticket(nlu, ctx, fallback=None)
        if ticket is None:
            return [problem] if problem else []
        if not is_private(ctx.address):
            # Others read this thread: the reference, the status and who has it, nothing more.
            who = ticket.assignee.name if ticket.assignee else say(lang, "status.nobody_yet")
            status = status_label(ticket.status, lang)
            return [
                Reply(
                    text=say(lang, "status.public", ref=ticket.ref, status=status, who=who),
                    card=card(ticket, lang=lang),
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
            who = say(lang, "status.by", name=last.actor.name) if last.actor else ""
            what = say(lang, f"event.{last.action}") if last.action in _EVENTS else last.action
            stamp = date_text(last.at, lang, "%d %b %H:%M UTC")
            when = say(lang, "status.last", what=what, who=who, when=stamp)
        text = say(
            lang,
            "status.ticket",
            ref=ticket.ref,
            status=status_label(ticket.status, lang),
            last=when,
        )
        return [Reply(text=text, card=card(ticket, lang=lang), ticket_ref=ticket.ref)]
    mine = await ctx.uow.tickets.for_requester(ctx.person.id, open_only=True, limit=10)
    lines = [f"• {summary(t)}" for t in mine]
    if ctx.person.has_role(Role.AGENT):
        queue, total = await ctx.uow.tickets.search(
            assignee_id=ctx.person.id, limit=10, status=OPEN_STATUSES
        )
        if queue:
            lines.append(say(lang, "status.assigned_to_you", count=total))
            lines.extend(f"• {summary(t)}" for t in queue)
    if not lines:
        return [Reply(text=say(lang, "status.none"))]
    head = say(lang, "status.yours", count=len(mine)) if mine else say(lang, "status.none_own")
    if not is_private(ctx.address):
        # One person's tickets are their own business, even when asked in a shared channel.
        return [
            Reply(text="\n".join([head, *lines]), ephemeral=True),
            Reply(text=say(lang, "kb.sent_privately")),
        ]
    return [Reply(text="\n".join([head, *lines]))]


async def _who(nlu: Understanding, ctx: HandlerContext, lang: str, *, named: bool) -> list[Reply]:
    """Agents learn who has any ticket; everyone else only who has their own."""
    ticket, problem = await find_ticket(nlu, ctx, fallback=None if named else "open")
    if ticket is None:
        return [problem] if problem else []
    if ticket.requester_id != ctx.person.id and not ctx.person.has_role(Role.AGENT):
        # The same answer as for a ticket that does not exist: approvers see tickets to
        # decide on them, not to learn who works on what.
        return [not_found(ticket.ref)]
    return [Reply(text=who_has(ticket, lang), card=card(ticket, lang=lang), ticket_ref=ticket.ref)]
