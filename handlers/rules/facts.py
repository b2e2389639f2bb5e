"""The plain facts the desk's figures are worked out from, one value per ticket, answer or mood.

`store.reports` reads them; `handlers.rules.figures` turns them into figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from store.enums import Status


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketFacts:
    """What the figures need of one ticket.

    `assignments`, `reopened` and `escalated` count its events of those kinds.
    """

    kind: str
    status: Status
    created_at: datetime
    priority: str | None = None
    group: str | None = None
    channel: str | None = None
    service: str | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    has_sla: bool = False
    response_due_at: datetime | None = None
    resolve_due_at: datetime | None = None
    paused_at: datetime | None = None
    assignments: int = 0
    reopened: int = 0
    escalated: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeDecision:
    """A change and the moment of its first decision (None while undecided)."""

    created_at: datetime
    decided_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Satisfaction:
    """One survey answer on a 1–5 scale, with where it came from."""

    score: float
    group: str | None = None
    channel: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SupplierTarget:
    """A ticket handed to a supplier: its contract's resolution due time and when it came back.

    The supplier's target is judged on the return (`ended_at`), the one instant kept of the
    supplier's work; a hand-off without a due time has no target.
    """

    supplier: str
    resolve_due_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Mood:
    """The sentiment of a ticket's opening words: `negative`/`neutral`/`positive`, score −1…1."""

    ref: str
    channel: str | None
    label: str
    score: float
