"""Placing a catalog order: the submitted form opens the request, approval or fulfilment next.

Chat (`submit`), the REST API and the portal (both through `place_order`) place orders the
same way. A request that needs approval waits for its chain (`handlers.catalog_chain`);
otherwise, and once approved, it goes to the item's fulfilment group with the item's
fulfilment target as its resolution clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.conversation import Reply
from handlers import fulfilment
from handlers.catalog_chain import approvers, ask_step, resolve_chain, steps_of
from handlers.catalog_dialogue import ITEM, SUBMIT, TEXT, answers_of, someone_else
from handlers.catalog_items import check_known, item_fields, may_order
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, say
from handlers.routing import tell_group
from handlers.rules import catalog_form as form
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, CalendarError, parse_duration
from handlers.service_levels import start_clock, store
from handlers.tickets import card, open_ticket
from nlu.types import Understanding
from store.catalog import CatalogItem
from store.enums import Level, Status, TicketKind
from store.models import Ticket


@registry.action(SUBMIT)
async def submit(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Submit a filled-in form: the request is opened and goes to approval or fulfilment."""
    lang = language(ctx, nlu)
    item = await ctx.uow.catalog.named(ctx.params.get(ITEM, ""))
    if item is None or not item.active:
        return [Reply(text=say(lang, "catalog.expired"))]
    if someone_else(ctx):
        return [Reply(text=say(lang, "catalog.submit_owner_only"))]
    if not may_order(item, ctx.person):
        return [Reply(text=say(lang, "catalog.not_for_you_short", item=item.name))]
    answers, errors = form.check_all(item_fields(item), answers_of(ctx.params))
    errors = errors or await check_known(ctx.uow, item_fields(item), answers)
    if errors:
        return [Reply(text=say(lang, "catalog.incomplete"))]
    ticket = await place_order(ctx, item, answers, ctx.params.get(TEXT, ""))
    request = await ctx.uow.catalog.request_of(ticket.id)
    if ticket.status is Status.AWAITING_APPROVAL and request is not None:
        names = [p.name for p in await approvers(ctx, request)]
        who = ", ".join(names) if names else say(lang, "catalog.an_approver")
        text = say(lang, "catalog.opened_approval", ref=ticket.ref, item=item.name, who=who)
    else:
        group = (
            item.fulfilment_group.name if item.fulfilment_group else say(lang, "catalog.the_desk")
        )
        text = say(lang, "catalog.opened", ref=ticket.ref, item=item.name, group=group)
    return [Reply(text=text, card=card(ticket, lang=lang), ticket_ref=ticket.ref, replaces=True)]


async def place_order(
    ctx: HandlerContext, item: CatalogItem, answers: Mapping[str, str], text: str
) -> Ticket:
    """Open the request for checked answers, then ask for approval or start fulfilment.

    Shared by chat and the API, so an order means the same wherever it was placed.
    """
    fields = item_fields(item)
    lines = [f"{f.label}: {answers.get(f.name) or '-'}" for f in fields]
    description = "\n".join(([text.strip(), ""] if text.strip() else []) + lines)
    needs = bool(steps_of(item))
    ticket = await open_ticket(
        ctx,
        kind=TicketKind.REQUEST,
        title=f"{item.name} for {ctx.person.name}",
        description=description[:4000],
        service=None,
        impact=Level.LOW,
        urgency=Level.LOW,
        status=Status.AWAITING_APPROVAL if needs else Status.NEW,
        catalog_item=item.name,
        log={"catalog_item": item.name, "answers": dict(answers)},
    )
    chain = await resolve_chain(ctx, item, answers)
    manager = None
    if item.approval == "manager" and ctx.person.manager_id is not None:
        manager = await ctx.uow.people.get(ctx.person.manager_id)
    request = await ctx.uow.catalog.add_request(
        ticket_id=ticket.id,
        item=item,
        answers=dict(answers),
        approval=str(chain[0]["by"]) if chain else "none",
        approver=manager,
        approval_group_id=item.approval_group_id if item.approval == "group" else None,
    )
    request.chain = chain
    request.step = 0
    if not needs:
        await fulfil(ctx, ticket, item)
        return ticket
    await ask_step(ctx, ticket, request, ctx.person.name)
    return ticket


async def fulfil(ctx: HandlerContext, ticket: Ticket, item: CatalogItem) -> None:
    """Hand the request to the fulfilment group, with the item's target as its clock."""
    group = item.fulfilment_group or await ctx.uow.desk.default_group()
    if group is not None:
        ticket.group_id = group.id
        ticket.group = group
        ctx.log(ticket, "routed", group=group.name, previous_group_id=None)
    clock = _fulfilment_clock(item, ticket, ctx)
    if clock is None:
        await start_clock(ctx, ticket)
    else:
        store(ticket, clock, ctx.now)
        ctx.log(
            ticket,
            "sla",
            name=clock.policy,
            response_due_at=None,
            resolve_due_at=clock.resolve_due_at.isoformat() if clock.resolve_due_at else None,
        )
    if group is not None:
        await tell_group(ctx, ticket, group)
    await fulfilment.start(ctx, ticket, item)


def _fulfilment_clock(item: CatalogItem, ticket: Ticket, ctx: HandlerContext) -> sla.Clock | None:
    if not item.fulfilment_target or ticket.priority is None:
        return None
    try:
        target = parse_duration(item.fulfilment_target)
    except CalendarError:
        return None
    policy = sla.Policy(
        name=f"catalog: {item.name}"[:120],
        applies_to=sla.AppliesTo(),
        calendar=ALWAYS,
        targets={ticket.priority: sla.Targets(resolve=target)},
    )
    # The fulfilment clock starts when the work may start: at approval, or at once.
    return sla.start(policy, ticket.priority, ctx.now)
