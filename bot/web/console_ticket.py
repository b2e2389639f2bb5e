"""The console ticket page's surroundings and the two actions that reach beyond the ticket.

`surroundings` gathers what the page shows beside the ticket itself: its configuration item
and what an outage of it reaches (impact), the problem, incidents, outage and reports it is
linked to, and its latest supplier hand-off. `link` ties an incident and a problem together
from either side; `hand` gives the ticket to a supplier as chat's "hand INC-7 to NetCo" and
`POST /api/tickets/{ref}/supplier` do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select

from handlers.cmdb import Impact, impact
from handlers.context import HandlerContext
from handlers.errors import HandlerError
from store.enums import Role, TicketKind
from store.models import Service, Supplier, SupplierHandoff, Ticket, TicketLink
from store.uow import UnitOfWork

_REF = re.compile(r"^(?:INC|REQ|PRB|CHG)-\d{1,9}$")


class LinkError(HandlerError):
    """A link the console cannot make; the message says why (400)."""


class NotFoundError(HandlerError):
    """The ticket or supplier named does not exist (404)."""


@dataclass(slots=True)
class Surroundings:
    """What the ticket page shows around the ticket."""

    ci: Service | None = None
    impact: Impact | None = None
    problems: list[Ticket] = field(default_factory=list)
    incidents: list[Ticket] = field(default_factory=list)
    outages: list[Ticket] = field(default_factory=list)
    reports: list[Ticket] = field(default_factory=list)
    handoff: SupplierHandoff | None = None
    suppliers: list[str] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        """Whether any problem, incident, outage or report is linked to the ticket."""
        return bool(self.problems or self.incidents or self.outages or self.reports)


async def surroundings(uow: UnitOfWork, ticket: Ticket) -> Surroundings:
    """The ticket's CI and impact, linked tickets, hand-off and the desk's suppliers."""
    found = Surroundings(ci=ticket.service)
    if ticket.service is not None:
        found.impact = await impact(uow, ticket.service)
    if ticket.kind is TicketKind.PROBLEM:
        found.incidents = await uow.problems.incidents(ticket)
    else:
        found.problems = await uow.problems.problems_of(ticket)
    # A person's report joined to an outage, and an outage's joined reports.
    outages = select(Ticket).join(TicketLink, TicketLink.linked_id == Ticket.id)
    found.outages = list(
        await uow.session.scalars(
            outages.where(TicketLink.ticket_id == ticket.id).order_by(Ticket.id)
        )
    )
    reports = select(Ticket).join(TicketLink, TicketLink.ticket_id == Ticket.id)
    found.reports = list(
        await uow.session.scalars(
            reports.where(TicketLink.linked_id == ticket.id).order_by(Ticket.id).limit(50)
        )
    )
    found.handoff = (await uow.desk.handoffs([ticket.id])).get(ticket.id)
    found.suppliers = list(await uow.session.scalars(select(Supplier.name).order_by(Supplier.name)))
    return found


def _agent(ctx: HandlerContext) -> None:
    if not ctx.person.has_role(Role.AGENT):
        from handlers.agent import NotAllowedError

        raise NotAllowedError("only agents can do this")


async def link(ctx: HandlerContext, ticket: Ticket, ref: str) -> Ticket:
    """Link an incident and a problem, whichever of the two `ticket` is; the other one."""
    _agent(ctx)
    wanted = ref.strip().upper()
    if not _REF.match(wanted):
        raise LinkError("name a ticket to link, like PRB-3 or INC-12")
    other = await ctx.uow.tickets.by_ref(wanted)
    if other is None:
        raise NotFoundError(f"there is no {wanted}")
    kinds = {ticket.kind, other.kind}
    if kinds != {TicketKind.INCIDENT, TicketKind.PROBLEM}:
        raise LinkError("an incident links to a problem, and a problem to an incident")
    problem, incident = (other, ticket) if other.kind is TicketKind.PROBLEM else (ticket, other)
    if await ctx.uow.problems.link(problem, incident, how="agent"):
        ctx.log(incident, "linked", problem=problem.ref)
        ctx.log(problem, "linked", incident=incident.ref)
        ticket.updated_at = ctx.now
    return other


async def hand(ctx: HandlerContext, ticket: Ticket, name: str, note: str) -> str:
    """Hand the ticket to the named supplier (blank: the one behind its service)."""
    from handlers.suppliers import find_supplier, hand_off

    _agent(ctx)
    if name.strip() and await ctx.uow.desk.named(Supplier, name.strip()) is None:
        raise NotFoundError(f"there is no supplier {name.strip()[:80]!r}")
    supplier = await find_supplier(ctx, ticket, name.strip() or None)
    done = await hand_off(ctx, ticket, supplier, note.strip() or None)
    return done.handoff.supplier


__all__ = ["LinkError", "NotFoundError", "Surroundings", "hand", "link"]
