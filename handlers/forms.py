"""Tickets filed and catalog orders placed through a form.

Forms are a Slack modal or a message turned into a ticket.

A form says outright what the NLU would have to guess: incident or request, summary,
service, urgency and details arrive in `ctx.params`. Channels validate the form before it
is accepted; this handler still treats every field as untrusted.
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers import catalog
from handlers.context import HandlerContext
from handlers.incidents import service_named
from handlers.registry import registry
from handlers.replies import language, normalise, say, written_language
from handlers.routing import place
from handlers.rules import priority as prio
from handlers.service_levels import note_clock
from handlers.tickets import card, open_ticket, title_from
from nlu.types import Understanding
from store.enums import Level, TicketKind

MAX_SUMMARY = 150
MAX_DESCRIPTION = 4000


def _level(value: str | None, default: Level) -> Level:
    try:
        return Level(value or "")
    except ValueError:
        return default


@registry.action("file_ticket")
async def file_ticket(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """File an incident or a request from a form."""
    p = ctx.params
    summary = " ".join(p.get("summary", "").split())[:MAX_SUMMARY]
    # A form has no message to read the language from; its summary is the person's words.
    lang = normalise(ctx.person.language) or written_language(summary) or language(ctx, nlu)
    if not summary:
        return [Reply(text=say(lang, "forms.no_summary"))]
    kind = TicketKind.REQUEST if p.get("kind") == "request" else TicketKind.INCIDENT
    service, _named = await service_named(ctx, nlu)
    description = (p.get("description") or summary).strip()[:MAX_DESCRIPTION]
    link = p.get("link", "")
    if link.startswith("https://"):
        description += f"\n\nFrom the message: {link}"
    if kind is TicketKind.REQUEST:
        urgency = _level(p.get("urgency"), Level.LOW)
        impact = Level.LOW
    else:
        urgency = _level(p.get("urgency"), Level.MEDIUM)
        impact = prio.impact(service.criticality if service else None)
    ticket = await open_ticket(
        ctx,
        clock=True,
        kind=kind,
        title=title_from(summary, limit=MAX_SUMMARY),
        description=description,
        service=service,
        impact=impact,
        urgency=urgency,
        log={"source": "form", "link": link or None},
    )
    await place(ctx, ticket, service)
    note_clock(ctx, ticket)
    where = say(lang, "forms.for_service", service=service.name) if service else ""
    priority = ticket.priority.value if ticket.priority else ""
    return [
        Reply(
            text=say(
                lang,
                "forms.filed",
                kind=say(lang, f"kind.{kind.value}"),
                ref=ticket.ref,
                where=where,
                priority=priority,
            ),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]


@registry.action("catalog_form")
async def order_from_form(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Order a catalog item from a form the channel showed (a Slack modal).

    The channel checked the answers with the catalog's rules before accepting the form; the
    order is still checked again, and placed, exactly as one submitted in chat.
    """
    ctx.params = {
        catalog.ITEM: ctx.params.get("item", ""),
        catalog.ANSWERS: ctx.params.get("answers", "{}"),
    }
    return await catalog.submit(nlu, ctx)
