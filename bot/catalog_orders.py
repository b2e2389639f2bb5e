"""Ordering a catalog item outside chat (REST API, portal): one path, the chat's rules.

The answers are checked with the form's own rules, the order goes through the same handler
as one placed in chat (approval, fulfilment, service level), and what it tells other people
leaves through the outbox at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.api_access import caller_context
from bot.container import Container
from bot.delivery import add_outgoing
from bot.guards import without_nul
from handlers.rules import catalog_form as form
from store.catalog import CatalogItem
from store.enums import Status
from store.models import Person


class OrderRefused(Exception):
    """Why an order was not placed: `status` is the HTTP status that says it."""

    def __init__(self, status: int, message: str, fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = dict(fields or {})


@dataclass(frozen=True, slots=True)
class Placed:
    """An order placed: its ticket, the stored answers and who must approve it."""

    ref: str
    item: str
    status: Status
    answers: dict[str, str]
    approvers: list[str] = field(default_factory=list)
    group: str | None = None


def may_order(item: CatalogItem, person: Person) -> bool:
    """Whether the item's role and organisation limits let the person order it (admins may)."""
    return form.may_order(
        roles=person.role_set,
        organisation=person.organisation,
        allowed_roles=[str(r) for r in item.roles or ()],
        allowed_organisations=[str(o) for o in item.organisations or ()],
    )


async def orderable(c: Container, person_id: int) -> list[CatalogItem]:
    """The items this person may order, in the catalog's order."""
    async with c.uow() as uow:
        me = await uow.people.get(person_id)
        if me is None:
            return []
        return [i for i in await uow.catalog.items() if may_order(i, me)]


async def place(
    c: Container,
    person_id: int,
    item: str,
    answers: Mapping[str, Any],
    note: str = "",
    *,
    channel: str,
) -> Placed:
    """Place an order for `item` with `answers`; `OrderRefused` says why it was not."""
    from handlers import catalog

    async with c.uow() as uow:
        found = await uow.catalog.find(item)
        if found is None:
            raise OrderRefused(404, f"no catalog item {item!r}")
        me = await uow.people.get(person_id)
        if me is None:
            raise OrderRefused(401, "invalid or revoked sign-in")
        if not may_order(found, me):
            raise OrderRefused(403, f"you may not order {found.name}")
        cleaned = {
            without_nul(str(k)): without_nul(v) if isinstance(v, str) else v
            for k, v in answers.items()
        }
        fields = form.fields_of(found.fields or ())
        values, errors = form.check_all(fields, cleaned)
        errors = errors or await catalog.check_known(uow, fields, values)
        if errors:
            raise OrderRefused(400, "the answers do not fit the form", errors)
        ctx = caller_context(uow, me, channel=channel, counter=c.state.tally)
        ticket = await catalog.place_order(ctx, found, values, without_nul(note))
        request = await uow.catalog.request_of(ticket.id)
        approvers = (
            [p.name for p in await catalog.approvers(ctx, request)]
            if request is not None and ticket.status is Status.AWAITING_APPROVAL
            else []
        )
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        placed = Placed(
            ref=ticket.ref,
            item=found.name,
            status=ticket.status,
            answers=values,
            approvers=approvers,
            group=ticket.group.name if ticket.group else None,
        )
        ids = [r.id for r in rows]
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    return placed


async def progress(c: Container, person_id: int, ref: str) -> dict[str, Any]:
    """A request's approval chain and tasks, for its requester, staff and its approvers."""
    from handlers import fulfilment
    from handlers.tickets import can_see

    async with c.reader() as uow:
        me = await uow.people.get(person_id)
        ticket = await uow.tickets.by_ref(ref.upper())
        request = await uow.catalog.request_of(ticket.id) if ticket else None
        if me is None or ticket is None or request is None:
            raise OrderRefused(404, f"no catalog request {ref!r}")
        chain = request.chain or []
        in_chain = any(me.id in (s.get("approvers") or ()) for s in chain)
        if not (can_see(me, ticket) or in_chain):
            raise OrderRefused(404, f"no catalog request {ref!r}")
        decisions = await uow.catalog.decisions(ticket.id)
        ctx = caller_context(uow, me)
        return {
            "ref": ticket.ref,
            "item": request.item.name if request.item else None,
            "status": ticket.status.value,
            "step": request.step + 1 if chain else None,
            "approvals": [
                {
                    "step": i + 1,
                    "label": str(s.get("label") or ""),
                    "quorum": int(s.get("quorum") or 1),
                    "approved": sum(
                        1 for d in decisions if d.step == i and d.decision == "approved"
                    ),
                    "rejected": sum(
                        1 for d in decisions if d.step == i and d.decision == "rejected"
                    ),
                }
                for i, s in enumerate(chain)
            ],
            "tasks": await fulfilment.progress(ctx, ticket),
        }


async def complete_task(
    c: Container, person_id: int, ref: str, position: int, note: str = ""
) -> dict[str, Any]:
    """An agent completes a task of a request; `OrderRefused` (403/404/409) says why not."""
    from handlers import fulfilment

    async with c.uow() as uow:
        me = await uow.people.get(person_id)
        if me is None:
            raise OrderRefused(401, "invalid or revoked sign-in")
        ctx = caller_context(uow, me, counter=c.state.tally)
        try:
            await fulfilment.complete(ctx, f"{ref}/{position}", without_nul(note))
        except fulfilment.TaskError as e:
            raise OrderRefused(e.status, e.message) from None
        rows = await add_outgoing(uow, ctx.outgoing, topics=c.topics, exclude=None, inbox_id=None)
        await uow.flush()
        ids = [r.id for r in rows]
        await uow.commit()
    if ids and c.dispatcher is not None:
        c.dispatcher.kick(ids)
    return await progress(c, person_id, ref)
