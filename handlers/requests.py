"""Service requests from the catalog: accounts, access, hardware, software."""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.incidents import level_of
from handlers.registry import registry
from handlers.rules import priority as prio
from handlers.tickets import card, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Level, Status, TicketKind


@registry.intent(IntentName.REQUEST_SERVICE)
async def request_service(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Ask for something: "I need a new laptop", "please reset my password"."""
    item = nlu.first(EntityName.CATALOG_ITEM)
    urgency = level_of(nlu, EntityName.URGENCY) or Level.LOW
    impact = Level.LOW
    priority = prio.priority(impact, urgency)
    service = None
    svc = nlu.first(EntityName.SERVICE)
    if svc is not None:
        service = await ctx.uow.services.by_name(svc.value)
    ticket = await ctx.uow.tickets.create(
        kind=TicketKind.REQUEST,
        title=title_from(ctx.text),
        description=ctx.text,
        requester=ctx.person,
        status=Status.NEW,
        priority=priority,
        impact=impact,
        urgency=urgency,
        catalog_item=item.value if item else None,
        service_id=service.id if service else None,
        group_id=service.owner_group_id if service else None,
        origin=ctx.address.to_dict(),
    )
    ctx.log(ticket, "created", catalog_item=item.value if item else None, priority=priority.value)
    what = f" for {item.value}" if item else ""
    return [
        Reply(
            text=f"I've opened request {ticket.ref}{what}. I'll let you know here when it's done.",
            card=card(ticket),
            ticket_ref=ticket.ref,
        )
    ]
