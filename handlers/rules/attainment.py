"""Service-level targets judged: met, breached, or still running, and the share met.

A met target is judged when it was met; an unmet one at the end of the period, or at the
moment its clock paused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from handlers.rules.facts import SupplierTarget, TicketFacts


@dataclass(frozen=True, slots=True)
class Targets:
    """Service-level targets judged so far: met, breached, and still running (undecided)."""

    met: int = 0
    breached: int = 0
    pending: int = 0

    @property
    def attainment(self) -> float | None:
        """The share of decided targets that were met; None before any is decided."""
        decided = self.met + self.breached
        return self.met / decided if decided else None

    def __add__(self, other: Targets) -> Targets:
        return Targets(
            self.met + other.met, self.breached + other.breached, self.pending + other.pending
        )


def target_outcome(
    due: datetime | None, met: datetime | None, paused: datetime | None, now: datetime
) -> str | None:
    """`met`, `breached` or `running` for one target; None when the ticket has no such target.

    A met target is judged when it was met; an unmet one at `now`, or at the moment its
    clock paused (the due time moves on resume, so a paused target has not breached yet
    unless it had when it paused).
    """
    if due is None:
        return None
    if met is not None:
        return "met" if met <= due else "breached"
    at = paused or now
    return "breached" if at >= due else "running"


def tally(outcomes: Iterable[str | None]) -> Targets:
    """Count `target_outcome`s; tickets without the target are left out."""
    c = Counter(o for o in outcomes if o is not None)
    return Targets(met=c["met"], breached=c["breached"], pending=c["running"])


def response_targets(tickets: Iterable[TicketFacts], now: datetime) -> Targets:
    """The response targets of the tickets under an agreement, judged at `now`."""
    return tally(
        target_outcome(t.response_due_at, t.responded_at, t.paused_at, now)
        for t in tickets
        if t.has_sla
    )


def resolution_targets(tickets: Iterable[TicketFacts], now: datetime) -> Targets:
    """The resolution targets of the tickets under an agreement, judged at `now`."""
    return tally(
        target_outcome(t.resolve_due_at, t.resolved_at, t.paused_at, now)
        for t in tickets
        if t.has_sla
    )


def supplier_outcomes(targets: Iterable[SupplierTarget], now: datetime) -> Targets:
    """Suppliers' resolution targets: met, breached, still running."""
    return tally(target_outcome(t.resolve_due_at, t.ended_at, None, now) for t in targets)
