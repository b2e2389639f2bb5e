"""A ticket as the REST API shows it: its fields, its service-level clocks, its supplier.

The clocks and hand-offs of several tickets are read once for the lot (`extras_for`), so a
page of tickets costs a handful of queries, not a few per ticket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from handlers.sla_state import TargetState, clock_state, supplier_state
from store.enums import Priority, Status, TicketKind
from store.models import SupplierHandoff, Ticket, TicketEvent
from store.types import utcnow
from store.uow import UnitOfWork


class TargetOut(BaseModel):
    """One target of a clock: the agreement's target (`4h`), when it is due, what is left."""

    target: str | None = Field(description="The target as the desk file wrote it, e.g. `4h`.")
    due_at: datetime | None
    remaining_seconds: int | None = Field(
        description="Wall time to the due instant; negative once overdue, frozen while "
        "paused, null once met."
    )
    met_at: datetime | None
    paused: bool
    breached: bool

    @classmethod
    def of(cls, state: TargetState | None) -> TargetOut | None:
        """The target as shown, or None for a clock without it."""
        if state is None:
            return None
        return cls(
            target=state.target,
            due_at=state.due_at,
            remaining_seconds=state.remaining_seconds,
            met_at=state.met_at,
            paused=state.paused,
            breached=state.breached,
        )


class SlaOut(BaseModel):
    """The ticket's service-level agreement and its two clocks."""

    agreement: str | None
    summary: str | None = Field(description="What the ticket card shows, e.g. `met`.")
    paused: bool
    response: TargetOut | None
    resolution: TargetOut | None


class SupplierOut(BaseModel):
    """The latest hand-off to a supplier and its underpinning contract's clock."""

    name: str
    contract: str | None
    handed_at: datetime
    waiting: bool = Field(description="The ticket is open and with the supplier.")
    response: TargetOut | None
    resolution: TargetOut | None


@dataclass
class Extras:
    """What cards of several tickets share: agreements, hand-offs, suppliers' targets."""

    now: datetime
    agreements: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    handoffs: Mapping[int, SupplierHandoff] = field(default_factory=dict)
    supplier_targets: Mapping[int, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)


async def extras_for(uow: UnitOfWork, tickets: Sequence[Ticket]) -> Extras:
    """Read what the cards of these tickets share, once for them all."""
    handoffs = await uow.desk.handoffs([t.id for t in tickets])
    supplier_targets: dict[int, Mapping[str, Mapping[str, str]]] = {}
    for h in handoffs.values():
        if h.supplier_id is not None and h.supplier_id not in supplier_targets:
            row = await uow.desk.supplier(h.supplier_id)
            supplier_targets[h.supplier_id] = (row.targets if row else None) or {}
    return Extras(
        now=utcnow(),
        agreements={r.name: r.targets or {} for r in await uow.desk.service_levels()},
        handoffs=handoffs,
        supplier_targets=supplier_targets,
    )


def _sla(t: Ticket, extras: Extras) -> SlaOut | None:
    if t.priority is None and t.sla_name is None:
        return None
    state = clock_state(t, extras.now, extras.agreements.get(t.sla_name or ""))
    return SlaOut(
        agreement=state.agreement,
        summary=state.summary,
        paused=state.paused,
        response=TargetOut.of(state.response),
        resolution=TargetOut.of(state.resolution),
    )


_ENDED = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


def _supplier(t: Ticket, extras: Extras) -> SupplierOut | None:
    h = extras.handoffs.get(t.id)
    if h is None:
        return None
    targets = extras.supplier_targets.get(h.supplier_id or 0, {})
    written = targets.get(t.priority.value if t.priority else "", {})
    response, resolution = supplier_state(h, extras.now, written, ended_at=t.resolved_at)
    return SupplierOut(
        name=h.supplier,
        contract=h.contract,
        handed_at=h.handed_at,
        waiting=h.ended_at is None and t.resolved_at is None and t.status not in _ENDED,
        response=TargetOut.of(response),
        resolution=TargetOut.of(resolution),
    )


class TicketOut(BaseModel):
    """A ticket: what it is, where it stands, who has it, and its clocks."""

    model_config = ConfigDict(from_attributes=True)

    ref: str
    kind: TicketKind
    title: str
    description: str
    status: Status
    priority: Priority | None
    impact: str | None
    urgency: str | None
    service: str | None
    requester: str
    requester_email: str | None
    assignee: str | None
    group: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    version: int
    sla: SlaOut | None = Field(default=None, description="Null for a ticket without priority.")
    supplier: SupplierOut | None = None

    @classmethod
    def of(cls, t: Ticket, extras: Extras | None = None) -> TicketOut:
        """The ticket as shown; `extras` carries what several tickets share."""
        extras = extras or Extras(now=utcnow())
        return cls(
            ref=t.ref,
            kind=t.kind,
            title=t.title,
            description=t.description,
            status=t.status,
            priority=t.priority,
            impact=t.impact.value if t.impact else None,
            urgency=t.urgency.value if t.urgency else None,
            service=t.service.name if t.service else None,
            requester=t.requester.name,
            requester_email=t.requester.email,
            assignee=t.assignee.name if t.assignee else None,
            group=t.group.name if t.group else None,
            created_at=t.created_at,
            updated_at=t.updated_at,
            resolved_at=t.resolved_at,
            version=t.version,
            sla=_sla(t, extras),
            supplier=_supplier(t, extras),
        )


class TicketPage(BaseModel):
    """One page of tickets, and how many there are in all."""

    total: int
    items: list[TicketOut]


class EventOut(BaseModel):
    """One change of a ticket: when, what, who, through which channel."""

    at: datetime
    action: str
    actor: str | None
    channel: str
    detail: dict[str, Any]

    @classmethod
    def of(cls, e: TicketEvent) -> EventOut:
        """The event as shown."""
        return cls(
            at=e.at,
            action=e.action,
            actor=e.actor.name if e.actor else None,
            channel=e.channel,
            detail=e.detail,
        )
