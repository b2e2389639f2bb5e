"""Agents at work in chat: assigning tickets, taking the next one, and their queues."""

from __future__ import annotations

import re

from channels.conversation import Button, Reply
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.context import HandlerContext
from handlers.incidents import assign as take
from handlers.registry import registry
from handlers.rules import lifecycle
from handlers.tickets import card, find_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role
from store.models import Ticket

_REF = re.compile(r"(?<![A-Za-z0-9])(?:INC|REQ|PRB|CHG)-\d+(?!\d)|#\d+", re.IGNORECASE)
_TO_ME = re.compile(
    r"\b(?:to|for)\s+(?:me|myself)\b|\bI'?ll\b|\bI\s+will\b|\blet\s+me\b|\bmine\b|\bmy\s+plate\b"
    r"|->\s*me\b|^\W*(?:<@\w+>\s*)?(?:take|grab|assign)\s*(?:it|this(?:\s+one)?)?\W*$"
    r"|^\W*(?:<@\w+>\s*)?(?:take|grab)\b|\bcan\s+i\s+(?:own|have|take)\b|\bgive\s+(?:it\s+)?(?:to\s+)?me\b",
    re.IGNORECASE,
)
_TO_OTHER = re.compile(
    r"\b(?:to|over\s+to|->|can\s+go\s+to|of)\s+(?:the\s+)?(?P<who>[\w.@'-]+(?:\s+[\w.@'-]+)?)"
    r"(?:\s+(?:team|group|queue))?(?:[\s,]+(?:please|pls|thanks)\b.*)?\s*[.!?]*\s*$",
    re.IGNORECASE,
)
_TO_ME_ZH = re.compile(r"给我|我来|我接|归我")
_TO_OTHER_ZH = re.compile(
    r"(?:交给|转给|分给|改派给|指派给|分配给|给)(?P<who>[^\s，。,.!！]+?)(?:处理|负责)?\s*[。.!！]*$"
)
_NEXT = re.compile(r"\bnext\b|下一个", re.IGNORECASE)
_FILLER = {"please", "pls", "team", "group", "queue", "she", "he", "they", "it", "this", "that"}
_LISTED = 8


def _target_name(text: str) -> str | None:
    """Who a ticket should go to, as written after "to": "erin", "the network team"."""
    bare = _REF.sub(" ", text)
    found = _TO_OTHER.search(bare) or _TO_OTHER_ZH.search(bare)
    if found is None:
        return None
    words = [w for w in found.group("who").split() if w.lower() not in _FILLER]
    return " ".join(words) or None


@registry.command("assign", listed=False)
async def assign_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Assign a ticket: "assign INC-42 to me", "assign INC-42 to erin" (agents)."""
    return await assign(nlu, ctx)


@registry.intent(IntentName.ASSIGN)
async def assign(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Assign a ticket: "assign INC-12 to me", "give INC-3 to erin", "take the next one"."""
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text="Only agents can assign tickets. I can tell you who has yours.")]
    named = nlu.first(EntityName.TICKET_REF) is not None or bool(ctx.params.get("ref"))
    if not named:
        if _NEXT.search(ctx.text):
            return await _take_next(ctx)
        return [Reply(text='Which ticket? Say "assign INC-42 to me" or "take the next one".')]
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    if not lifecycle.is_open(ticket.status):
        return [Reply(text=f"{ticket.ref} is {ticket.status.label}.", ticket_ref=ticket.ref)]
    bare = _REF.sub(" ", ctx.text)
    if _TO_ME.search(bare) or _TO_ME_ZH.search(bare):
        return [_take(ticket, ctx)]
    name = _target_name(ctx.text)
    if name is None:
        return [
            Reply(
                text=f'Who should have {ticket.ref}? Say "assign {ticket.ref} to me" or '
                f'"assign {ticket.ref} to erin".'
            )
        ]
    return [await _give(ticket, name, ctx)]


def _take(ticket: Ticket, ctx: HandlerContext) -> Reply:
    if ticket.assignee_id == ctx.person.id and ticket.responded_at is not None:
        return Reply(text=f"{ticket.ref} is already yours.", ticket_ref=ticket.ref)
    return take(ticket, ctx)


async def _give(ticket: Ticket, name: str, ctx: HandlerContext) -> Reply:
    """To a named agent, else to a group of that name; anyone else is refused."""
    person = await ctx.uow.queues.person_named(name)
    if person is not None:
        if person.id == ctx.person.id:
            return _take(ticket, ctx)
        try:
            changed = update_ticket(ticket, Update(assignee=person), ctx)
        except NotAllowedError:
            return Reply(
                text=f"{person.name} is not an agent, so I can't give them {ticket.ref}.",
                ticket_ref=ticket.ref,
            )
        if not changed:
            return Reply(text=f"{ticket.ref} is already with {person.name}.", ticket_ref=ticket.ref)
        return Reply(
            text=f"{ticket.ref} is assigned to {person.name}; I've told them.",
            card=card(ticket),
            ticket_ref=ticket.ref,
        )
    group = await ctx.uow.people.group(name) or await ctx.uow.people.group(name.replace(" ", "-"))
    if group is None:
        return Reply(text=f"I don't know an agent or a group called {name}.")
    if ticket.group_id == group.id and ticket.assignee_id is None:
        return Reply(text=f"{ticket.ref} is already with {group.name}.", ticket_ref=ticket.ref)
    previous = ticket.assignee.name if ticket.assignee else None
    ticket.group_id = group.id
    ticket.group = group
    ticket.assignee_id = None
    ticket.assignee = None
    ticket.updated_at = ctx.now
    ctx.log(ticket, "group", to=group.name, previous=previous)
    return Reply(
        text=f"{ticket.ref} is in the {group.name} queue now.",
        card=card(ticket),
        ticket_ref=ticket.ref,
    )


async def _take_next(ctx: HandlerContext) -> list[Reply]:
    waiting = await ctx.uow.queues.unassigned_for(ctx.person.id, limit=1)
    if not waiting:
        return [Reply(text="Nothing is waiting in your groups' queues.")]
    return [take(waiting[0], ctx)]


def _line(ticket: Ticket) -> str:
    priority = f" {ticket.priority.value}" if ticket.priority else ""
    due = f", due {ticket.resolve_due_at:%a %H:%M}" if ticket.resolve_due_at else ""
    return f"• {ticket.ref}{priority} '{ticket.title}' ({ticket.status.label}{due})"


@registry.intent(IntentName.MY_QUEUE)
async def my_queue(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """See your queue and your groups' unassigned tickets: "what's in my queue?" (agents)."""
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text='Queues are for agents. Say "my tickets" to see the ones you raised.')]
    mine = await ctx.uow.queues.assigned_to(ctx.person.id, limit=_LISTED)
    waiting = await ctx.uow.queues.unassigned_for(ctx.person.id, limit=_LISTED)
    groups = await ctx.uow.queues.group_names(ctx.person.id)
    lines = [f"Assigned to you ({len(mine)}):" if mine else "Nothing is assigned to you."]
    lines += [_line(t) for t in mine]
    where = ", ".join(groups) or "your groups"
    if waiting:
        lines.append(f"Unassigned in {where} ({len(waiting)}):")
        lines += [_line(t) for t in waiting]
    else:
        lines.append(f"Nothing unassigned in {where}.")
    buttons = tuple(
        Button(label=f"Take {t.ref}", action="assign_me", value=t.ref) for t in waiting[:3]
    )
    return [Reply(text="\n".join(lines), buttons=buttons)]
