"""Who approves a catalog request: the item's chain of steps, resolved to people, and asked.

An item's chain names each step by who decides it (the requester's manager, a group, the
owners of a CI named in the form) and how many must approve. The chain is resolved to people
when the order is placed, and each step's approvers are messaged with Approve / Reject in
turn. The requester is never among them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply
from handlers.catalog_items import item_fields
from handlers.context import HandlerContext
from handlers.replies import language_of, say
from handlers.tickets import card
from store.catalog import CatalogItem, CatalogRequest
from store.enums import Role
from store.models import Person, Ticket

APPROVE, REJECT = "approve_request", "reject_request"


def approver_words(item: CatalogItem, lang: str = "en") -> str:
    """The whole chain in words, for the summary before submitting."""
    return say(lang, "catalog.step.then").join(_step_words(step, lang) for step in steps_of(item))


def _step_words(step: dict[str, Any], lang: str = "en") -> str:
    quorum = int(step.get("quorum") or 1)
    if step.get("by") == "manager":
        return say(lang, "catalog.step.manager")
    if step.get("by") == "ci_owner":
        field = step.get("field") or say(lang, "catalog.step.ci")
        return say(lang, "catalog.step.ci_owner", field=field)
    group = (
        say(lang, "catalog.step.group", group=step["group"])
        if step.get("group")
        else say(lang, "catalog.step.approver")
    )
    return say(lang, "catalog.step.quorum", quorum=quorum, group=group) if quorum > 1 else group


def steps_of(item: CatalogItem) -> list[dict[str, Any]]:
    """The item's approval chain; an item stored before chains has `approval` as one step."""
    if item.approvals:
        return [dict(s) for s in item.approvals]
    if item.approval == "manager":
        return [{"by": "manager", "quorum": 1}]
    if item.approval == "group":
        group = item.approval_group.name if item.approval_group else None
        return [{"by": "group", "group_id": item.approval_group_id, "group": group, "quorum": 1}]
    return []


async def resolve_chain(
    ctx: HandlerContext, item: CatalogItem, answers: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each step with the people who may decide it and how many must approve.

    Resolved when the order is placed. The requester is never an approver; a step nobody
    it names can decide (no manager in the directory, an empty group, an unknown CI) goes
    to the desk's approvers, so the request does not wait forever.
    """
    chain: list[dict[str, Any]] = []
    for step in steps_of(item):
        ids: list[int] = []
        label = _step_words(step)
        by = step.get("by")
        if by == "manager" and ctx.person.manager_id is not None:
            ids = [ctx.person.manager_id]
            manager = await ctx.uow.people.get(ctx.person.manager_id)
            label = manager.name if manager is not None else label
        elif by == "group" and step.get("group_id"):
            ids = await ctx.uow.catalog.group_member_ids(int(step["group_id"]))
        elif by == "ci_owner":
            named = answers.get(str(step.get("field") or ""), "")
            ci = await ctx.uow.services.by_name(named) if named else None
            if ci is not None and ci.owner_group_id is not None:
                ids = await ctx.uow.catalog.group_member_ids(ci.owner_group_id)
                label = f"the owners of {ci.name}"
        people = [p for p in [await ctx.uow.people.get(i) for i in ids] if p is not None]
        people = [p for p in people if p.active and p.id != ctx.person.id]
        if not people:
            people = [
                p
                for p in await ctx.uow.people.with_role(Role.APPROVER)
                if p.active and p.id != ctx.person.id
            ]
            label = "the desk's approvers"
        quorum = max(1, min(int(step.get("quorum") or 1), len(people) or 1))
        chain.append(
            {"by": by, "label": label, "approvers": [p.id for p in people], "quorum": quorum}
        )
    return chain


def first_step(item: CatalogItem) -> str:
    """Who approves first: `none`, `manager`, `group` or `ci_owner`."""
    steps = steps_of(item)
    return str(steps[0]["by"]) if steps else "none"


def step_words(item: CatalogItem) -> list[str]:
    """Each approval step in words, as the API lists them."""
    words = []
    for step in steps_of(item):
        quorum = int(step.get("quorum") or 1)
        if step.get("by") == "group":
            words.append(
                f"{quorum} of {step.get('group')}" if quorum > 1 else str(step.get("group"))
            )
        elif step.get("by") == "ci_owner":
            words.append(f"owners of the CI in `{step.get('field')}`")
        else:
            words.append("manager")
    return words


async def ask_step(
    ctx: HandlerContext, ticket: Ticket, request: CatalogRequest, requester: str
) -> None:
    """Send the current step's approvers the request with Approve / Reject."""
    item = request.item
    answers = request.answers or {}
    fields = item_fields(item) if item is not None else []
    chain = request.chain or []

    def ask(lang: str) -> Reply:
        lines = [f"{f.label_in(lang)}: {answers.get(f.name) or '-'}" for f in fields]
        of = (
            say(lang, "catalog.ask_of", step=request.step + 1, steps=len(chain))
            if len(chain) > 1
            else ""
        )
        return Reply(
            text=say(
                lang,
                "catalog.ask",
                requester=requester,
                item=item.name if item else ticket.title,
                ref=ticket.ref,
                of=of,
                lines="\n".join(f"• {line}" for line in lines),
            ),
            card=card(ticket, lang=lang),
            buttons=(
                Button(
                    label=say(lang, "approvers.approve"),
                    action=APPROVE,
                    value=ticket.ref,
                    style=ButtonStyle.PRIMARY,
                ),
                Button(
                    label=say(lang, "approvers.reject"),
                    action=REJECT,
                    value=ticket.ref,
                    style=ButtonStyle.DANGER,
                ),
            ),
            ticket_ref=ticket.ref,
        )

    for approver in await approvers(ctx, request):
        ctx.notify(approver.id, ask(language_of(approver)))


async def approvers(ctx: HandlerContext, request: CatalogRequest) -> list[Person]:
    """Who may decide the current step (a request placed before chains: its one approver).

    The requester is never among them.
    """
    ticket = await ctx.uow.tickets.get(request.ticket_id)
    requester = ticket.requester_id if ticket else None
    if request.chain:
        step = request.chain[min(request.step, len(request.chain) - 1)]
        found = [await ctx.uow.people.get(int(i)) for i in step.get("approvers") or ()]
        return [p for p in found if p is not None and p.active and p.id != requester]
    return await _legacy_approvers(ctx, request, requester)


async def _legacy_approvers(
    ctx: HandlerContext, request: CatalogRequest, requester: int | None
) -> list[Person]:
    ids: list[int] = []
    if request.approval == "manager" and request.approver_id is not None:
        ids = [request.approver_id]
    elif request.approval == "group" and request.approval_group_id is not None:
        ids = await ctx.uow.catalog.group_member_ids(request.approval_group_id)
    people = [p for p in [await ctx.uow.people.get(i) for i in ids] if p is not None]
    if not people:
        # Nobody the item names can decide (no manager in the directory, an empty group):
        # the approvers of the desk do, so the request does not wait forever.
        people = await ctx.uow.people.with_role(Role.APPROVER)
    return [p for p in people if p.id != requester and p.active]
