"""Service requests from the catalog: accounts, access, hardware, software."""

from __future__ import annotations

from channels.conversation import Reply
from handlers import catalog, deflection
from handlers.context import HandlerContext
from handlers.incidents import level_of
from handlers.registry import registry
from handlers.replies import language, say
from handlers.routing import place
from handlers.service_levels import note_clock
from handlers.tickets import card, open_ticket, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Level, TicketKind


# An order and a request are served alike: an item of the stored catalog goes through its
# form (`handlers.catalog`), anything else is filed as a free-text request.
@registry.intent(IntentName.REQUEST_CATALOG, listed=False)
@registry.intent(IntentName.REQUEST_SERVICE)
async def request_service(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Ask for something: "I need a new laptop", "please reset my password"."""
    # Items of the stored catalog are ordered through their form; anything else is filed
    # as a free-text request, after an article that answers it has had its chance.
    if ctx.params.get(catalog.ITEM):
        return await catalog.continue_order(nlu, ctx)
    stored = await catalog.item_for(nlu, ctx)
    if stored is not None:
        return await catalog.start_order(nlu, ctx, stored)
    if catalog.asks_for_list(ctx.text):
        return await catalog.list_items(ctx)
    item = nlu.first(EntityName.CATALOG_ITEM)
    urgency = level_of(nlu, EntityName.URGENCY) or Level.LOW
    asked = nlu.intent if nlu.intent is IntentName.REQUEST_CATALOG else IntentName.REQUEST_SERVICE
    offered = await deflection.offer(nlu, ctx, asked, urgency=urgency)
    if offered is not None:
        return offered
    impact = Level.LOW
    service = None
    svc = nlu.first(EntityName.SERVICE)
    if svc is not None:
        service = await ctx.uow.services.by_name(svc.value)
    ticket = await open_ticket(
        ctx,
        clock=True,
        kind=TicketKind.REQUEST,
        title=title_from(ctx.text),
        description=ctx.text,
        service=service,
        impact=impact,
        urgency=urgency,
        catalog_item=item.value if item else None,
        log={"catalog_item": item.value if item else None},
    )
    await place(ctx, ticket, service)
    note_clock(ctx, ticket)
    lang = language(ctx, nlu)
    what = say(lang, "request.for_item", item=item.value) if item else ""
    return [
        Reply(
            text=say(lang, "request.opened", ref=ticket.ref, what=what),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]
