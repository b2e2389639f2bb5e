"""Agents at work in chat: assigning tickets, taking the next one, and their queues."""

from __future__ import annotations

import re

from channels.conversation import Button, Reply
from handlers.agent import NotAllowedError, Update, update_ticket
from handlers.context import HandlerContext
from handlers.incidents import assign as take
from handlers.registry import registry
from handlers.replies import date_text, language, say, status_label
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
    r"(?:交给|转给|分给|改派给|指派给|分配给|给)\s*(?P<who>[^\s，。,.!！]+?)(?:处理|负责)?\s*[。.!！]*$"
)
_NEXT = re.compile(r"\bnext\b|下一个", re.IGNORECASE)
# "交给谁处理" asks who should have it: a question word is not a name.
_FILLER = {"please", "pls", "team", "group", "queue", "she", "he", "they", "it", "this", "that"}
_FILLER |= {"谁", "哪位", "哪个人"}
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
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "queue.assign_agents_only"))]
    named = nlu.first(EntityName.TICKET_REF) is not None or bool(ctx.params.get("ref"))
    if not named:
        if _NEXT.search(ctx.text):
            return await _take_next(ctx, lang)
        return [Reply(text=say(lang, "queue.assign_which"))]
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    if not lifecycle.is_open(ticket.status):
        return [
            Reply(
                text=say(
                    lang, "queue.closed", ref=ticket.ref, status=status_label(ticket.status, lang)
                ),
                ticket_ref=ticket.ref,
            )
        ]
    bare = _REF.sub(" ", ctx.text)
    if _TO_ME.search(bare) or _TO_ME_ZH.search(bare):
        return [_take(ticket, ctx, lang)]
    name = _target_name(ctx.text)
    if name is None:
        return [Reply(text=say(lang, "queue.assign_who", ref=ticket.ref))]
    return [await _give(ticket, name, ctx, lang)]


def _take(ticket: Ticket, ctx: HandlerContext, lang: str) -> Reply:
    if ticket.assignee_id == ctx.person.id and ticket.responded_at is not None:
        return Reply(text=say(lang, "queue.already_yours", ref=ticket.ref), ticket_ref=ticket.ref)
    return take(ticket, ctx)


async def _give(ticket: Ticket, name: str, ctx: HandlerContext, lang: str) -> Reply:
    """To a named agent, else to a group of that name; anyone else is refused."""
    person = await ctx.uow.queues.person_named(name)
    if person is not None:
        if person.id == ctx.person.id:
            return _take(ticket, ctx, lang)
        try:
            changed = update_ticket(ticket, Update(assignee=person), ctx)
        except NotAllowedError:
            return Reply(
                text=say(lang, "queue.not_an_agent", name=person.name, ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        if not changed:
            return Reply(
                text=say(lang, "queue.already_with", ref=ticket.ref, name=person.name),
                ticket_ref=ticket.ref,
            )
        return Reply(
            text=say(lang, "queue.given", ref=ticket.ref, name=person.name),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    group = await ctx.uow.people.group(name) or await ctx.uow.people.group(name.replace(" ", "-"))
    if group is None:
        return Reply(text=say(lang, "queue.unknown_name", name=name))
    if ticket.group_id == group.id and ticket.assignee_id is None:
        return Reply(
            text=say(lang, "queue.already_with", ref=ticket.ref, name=group.name),
            ticket_ref=ticket.ref,
        )
    previous = ticket.assignee.name if ticket.assignee else None
    ticket.group_id = group.id
    ticket.group = group
    ticket.assignee_id = None
    ticket.assignee = None
    ticket.updated_at = ctx.now
    ctx.log(ticket, "group", to=group.name, previous=previous)
    return Reply(
        text=say(lang, "queue.to_group", ref=ticket.ref, group=group.name),
        card=card(ticket, lang=lang),
        ticket_ref=ticket.ref,
    )


async def _take_next(ctx: HandlerContext, lang: str) -> list[Reply]:
    waiting = await ctx.uow.queues.unassigned_for(ctx.person.id, limit=1)
    if not waiting:
        return [Reply(text=say(lang, "queue.nothing_waiting"))]
    return [take(waiting[0], ctx)]


def _line(ticket: Ticket, lang: str) -> str:
    priority = f" {ticket.priority.value}" if ticket.priority else ""
    due = (
        say(lang, "queue.due", when=date_text(ticket.resolve_due_at, lang, "%a %H:%M"))
        if ticket.resolve_due_at
        else ""
    )
    status = status_label(ticket.status, lang)
    return say(
        lang,
        "queue.line",
        ref=ticket.ref,
        priority=priority,
        title=ticket.title,
        status=status,
        due=due,
    )


@registry.intent(IntentName.MY_QUEUE)
async def my_queue(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """See your queue and your groups' unassigned tickets: "what's in my queue?" (agents)."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "queue.agents_only"))]
    mine = await ctx.uow.queues.assigned_to(ctx.person.id, limit=_LISTED)
    waiting = await ctx.uow.queues.unassigned_for(ctx.person.id, limit=_LISTED)
    groups = await ctx.uow.queues.group_names(ctx.person.id)
    lines = [
        say(lang, "queue.assigned", count=len(mine)) if mine else say(lang, "queue.none_assigned")
    ]
    lines += [_line(t, lang) for t in mine]
    where = ", ".join(groups) or say(lang, "queue.your_groups")
    if waiting:
        lines.append(say(lang, "queue.unassigned", where=where, count=len(waiting)))
        lines += [_line(t, lang) for t in waiting]
    else:
        lines.append(say(lang, "queue.none_unassigned", where=where))
    buttons = tuple(
        Button(label=say(lang, "queue.take", ref=t.ref), action="assign_me", value=t.ref)
        for t in waiting[:3]
    )
    return [Reply(text="\n".join(lines), buttons=buttons)]
