"""Self-service knowledge: answers people can use before, or instead of, a ticket.

Agents grow it from chat: "save this as an article" (or "save INC-12 as an article") turns
a resolved ticket's problem and fix into a knowledge draft (`store.knowledge_drafts`), which
`switchboard kb publish SLUG` makes a searchable article once someone has read it again.
"""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.links import is_private
from handlers.registry import Declined, registry
from handlers.replies import language, say
from handlers.tickets import find_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role, Status
from store.knowledge_drafts import KnowledgeDraft, slug_for
from store.models import Ticket

_WORD = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)
_STOP = frozenset(
    """a an and are can do does for from get have how i in is it me my of on or please
    set setup the to up what where which why with you your""".split()
)


def search_terms(nlu: Understanding) -> list[str]:
    """The words worth searching for: entities first, then the text without filler."""
    terms = [e.value for e in nlu.entities if e.entity in ("service", "catalog_item")]
    terms += [w for w in _WORD.findall(nlu.text.lower()) if w not in _STOP]
    return list(dict.fromkeys(terms))


@registry.intent(IntentName.SEARCH_KNOWLEDGE)
async def search_knowledge(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Look something up in the knowledge base: "how do I set up VPN on my phone?"."""
    lang = language(ctx, nlu)
    named = nlu.first(EntityName.SERVICE)
    # A question about one service is not answered with another service's article.
    articles = await ctx.uow.knowledge.search(
        search_terms(nlu), about=named.value if named else None
    )
    if not articles:
        return [Reply(text=say(lang, "kb.none"))]
    lines = [say(lang, "kb.found")]
    for a in articles:
        first = a.body.strip().split("\n", 1)[0]
        lines.append(f"• {a.title}: {first[:300]}")
    lines.append(say(lang, "kb.no_help"))
    if not is_private(ctx.address):
        # What someone looked up is their own business, even when asked in a shared channel.
        return [
            Reply(text="\n".join(lines), ephemeral=True),
            Reply(text=say(lang, "kb.sent_privately")),
        ]
    return [Reply(text="\n".join(lines))]


_SAVE = re.compile(
    r"^\W*save\s+(?:this|it|that|(?:ticket\s+)?(?P<ref>(?:inc|req|prb|chg)-\d+))\s+"
    r"(?:as\s+)?(?:an?\s+|the\s+)?(?:knowledge(?:\s+base)?\s+|kb\s+)?(?:article|draft)\b",
    re.IGNORECASE,
)
# "把这个保存为文章", "把 INC-12 保存为知识库文章", "保存为知识库文章".
_SAVE_ZH = re.compile(
    r"^\W*(?:请\s*)?(?:(?:把|将)\s*(?:这个|这张工单|这个工单|它|(?:工单\s*)?"
    r"(?P<ref>(?:inc|req|prb|chg)-\d+))\s*)?(?:保存|存)\s*(?:为|成)\s*(?:一篇\s*)?"
    r"(?:知识库\s*)?(?:文章|草稿)",
    re.IGNORECASE,
)
_HAN = re.compile(r"[\u4e00-\u9fff]")
MAX_BODY = 20_000


def _save_said(text: str) -> re.Match[str] | None:
    return _SAVE.match(text) or _SAVE_ZH.match(text)


@registry.command(
    "save",
    listed=False,
    starts=("把", "将", "请", "保存", "存为", "存成"),
    when=lambda text: text.strip().lower().startswith("save") or _save_said(text) is not None,
)
async def save_as_article(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Save a resolved ticket's problem and fix as a knowledge draft ("Save this as an article")."""
    said = _save_said(ctx.text or nlu.text)
    if said is None:
        # "save" began a message that is no such command ("save button greyed out").
        raise Declined
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "kb.save_agents_only"))]
    ticket, problem = await _ticket(nlu, ctx, said.group("ref"))
    if ticket is None:
        return [problem or Reply(text=say(lang, "kb.save_which"))]
    if ticket.status not in (Status.RESOLVED, Status.CLOSED):
        return [
            Reply(
                text=say(lang, "kb.save_not_resolved", ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        ]
    known = await ctx.uow.knowledge_drafts.for_ticket(ticket.id)
    if known is not None:
        return [
            Reply(
                text=say(lang, "kb.save_already", ref=ticket.ref, slug=known.slug),
                ticket_ref=ticket.ref,
            )
        ]
    fix = await _fix(ctx, ticket)
    if not fix:
        return [
            Reply(
                text=say(lang, "kb.save_no_fix", ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        ]
    draft = await ctx.uow.knowledge_drafts.add(_draft(ctx, ticket, fix, await _slug(ctx, ticket)))
    return [
        Reply(
            text=say(lang, "kb.saved", ref=ticket.ref, title=draft.title, slug=draft.slug),
            ticket_ref=ticket.ref,
        )
    ]


async def _ticket(
    nlu: Understanding, ctx: HandlerContext, named: str | None
) -> tuple[Ticket | None, Reply | None]:
    """The ticket named, else the one this agent resolved last."""
    if named or nlu.first(EntityName.TICKET_REF) or ctx.params.get("ref"):
        if named:
            ctx.params = {**ctx.params, "ref": named.upper()}
        return await find_ticket(nlu, ctx, fallback=None)
    last = await ctx.uow.knowledge_drafts.last_resolved_by(ctx.person.id)
    ticket = await ctx.uow.tickets.get(last) if last is not None else None
    return ticket, None


async def _fix(ctx: HandlerContext, ticket: Ticket) -> str:
    """What fixed it: the resolution note, else the last note an agent wrote on the ticket."""
    events = await ctx.uow.tickets.events(ticket.id)
    for action, key in (("resolved", "note"), ("note", "text")):
        for e in reversed(events):
            note = (e.detail or {}).get(key)
            if e.action != action or not isinstance(note, str) or not note.strip():
                continue
            if action == "note" and (e.actor is None or not e.actor.has_role(Role.AGENT)):
                continue
            return note.strip()
    return ""


async def _slug(ctx: HandlerContext, ticket: Ticket) -> str:
    base = slug_for(ticket.ref, ticket.title)
    slug, n = base, 1
    while await ctx.uow.knowledge.by_slug(slug) or await ctx.uow.knowledge_drafts.by_slug(slug):
        n += 1
        slug = f"{base[:110]}-{n}"
    return slug


def _draft(ctx: HandlerContext, ticket: Ticket, fix: str, slug: str) -> KnowledgeDraft:
    problem = (ticket.description or ticket.title).strip()
    body = f"{problem}\n\n## What fixed it\n\n{fix}\n"[:MAX_BODY]
    services = [ticket.service.name] if ticket.service else []
    return KnowledgeDraft(
        slug=slug,
        title=ticket.title[:300],
        body=body,
        tags=[ticket.kind.value],
        services=services,
        language="zh" if _HAN.search(f"{ticket.title} {fix}") else "en",
        ticket_id=ticket.id,
        ticket_ref=ticket.ref,
        author_id=ctx.person.id,
        created_at=ctx.now,
    )
