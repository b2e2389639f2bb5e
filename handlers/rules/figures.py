"""The desk's figures from plain facts: volumes, response and resolution times, service levels.

Pure functions over values `store.reports` reads, so every figure can be checked against a
history with known answers. Times are wall-clock minutes or hours, named in each key
(`mtta_minutes`); fractions run 0–1. A figure without data is None ("no data"), never 0.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean, median
from typing import Any

from store.enums import Status

UNCLEAR_INTENTS = frozenset({"clarify", "out_of_scope", "handover"})
"""What the router records when it did not understand: asked again, out of scope, handed over."""

CLOSED = frozenset({Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED})
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("under 1 day", 24.0),
    ("1-3 days", 72.0),
    ("3-7 days", 168.0),
    ("over 7 days", float("inf")),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketFacts:
    """What the figures need of one ticket; `assignments`, `reopened` and `escalated` count
    its events of those kinds."""

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


@dataclass(frozen=True, slots=True)
class Targets:
    """Service-level targets judged so far: met, breached, and still running (undecided)."""

    met: int = 0
    breached: int = 0
    pending: int = 0

    @property
    def attainment(self) -> float | None:
        decided = self.met + self.breached
        return self.met / decided if decided else None

    def __add__(self, other: Targets) -> Targets:
        return Targets(
            self.met + other.met, self.breached + other.breached, self.pending + other.pending
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """Every figure of one period; `to_json` names each key with its unit."""

    since: datetime
    until: datetime
    tickets_created: int
    volume_by_channel: Mapping[str, int]
    volume_by_kind: Mapping[str, int]
    volume_by_service: Mapping[str, int]
    volume_by_intent: Mapping[str, int]
    mtta_minutes: float | None
    mttr_minutes: float | None
    mtta_minutes_by_priority: Mapping[str, float]
    mttr_minutes_by_priority: Mapping[str, float]
    mtta_minutes_by_group: Mapping[str, float]
    mttr_minutes_by_group: Mapping[str, float]
    response_targets: Targets
    resolution_targets: Targets
    sla_attainment_by_group: Mapping[str, float | None]
    backlog_open: int
    backlog_age_hours_median: float | None
    backlog_age_hours_max: float | None
    backlog_by_age: Mapping[str, int]
    first_contact_resolution: float | None
    resolved: int
    nlu_messages: int
    nlu_fallbacks: int
    nlu_fallback_by_intent: Mapping[str, int]
    changes_decided: int
    change_approval_minutes_mean: float | None
    change_approval_minutes_median: float | None
    csat_responses: int
    csat_score_mean: float | None
    csat_by_group: Mapping[str, float]
    csat_by_channel: Mapping[str, float]
    deflected: int | None
    deflection_rate: float | None
    notes: Sequence[str] = field(default_factory=tuple)
    supplier_targets: Targets = field(default_factory=Targets)
    supplier_attainment_by_supplier: Mapping[str, float | None] = field(default_factory=dict)
    sentiment_tickets: int = 0
    sentiment_by_channel: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    sentiment_most_negative: Sequence[Mood] = field(default_factory=tuple)

    @property
    def supplier_sla_attainment(self) -> float | None:
        """Supplier resolution targets met out of those decided."""
        return self.supplier_targets.attainment

    @property
    def sentiment_negative_share(self) -> float | None:
        """Tickets whose opening words read negative, out of those read."""
        if not self.sentiment_tickets:
            return None
        negative = sum(c["negative"] for c in self.sentiment_by_channel.values())
        return negative / self.sentiment_tickets

    @property
    def sla_attainment(self) -> float | None:
        """Targets met out of targets decided, response and resolution together."""
        return (self.response_targets + self.resolution_targets).attainment

    @property
    def nlu_fallback_per_100_messages(self) -> float | None:
        if not self.nlu_messages:
            return None
        return 100.0 * self.nlu_fallbacks / self.nlu_messages

    def to_json(self) -> dict[str, Any]:
        """One object whose keys carry their unit: minutes, hours, fractions 0–1, counts."""
        both = self.response_targets + self.resolution_targets
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "period_days": round((self.until - self.since).total_seconds() / 86_400, 3),
            "tickets_created": self.tickets_created,
            "volume_by_channel": dict(self.volume_by_channel),
            "volume_by_kind": dict(self.volume_by_kind),
            "volume_by_service": dict(self.volume_by_service),
            "volume_by_intent": dict(self.volume_by_intent),
            "mtta_minutes": _round(self.mtta_minutes),
            "mttr_minutes": _round(self.mttr_minutes),
            "mtta_minutes_by_priority": _rounded(self.mtta_minutes_by_priority),
            "mttr_minutes_by_priority": _rounded(self.mttr_minutes_by_priority),
            "mtta_minutes_by_group": _rounded(self.mtta_minutes_by_group),
            "mttr_minutes_by_group": _rounded(self.mttr_minutes_by_group),
            "sla_attainment": _round(self.sla_attainment, 4),
            "sla_response_attainment": _round(self.response_targets.attainment, 4),
            "sla_resolution_attainment": _round(self.resolution_targets.attainment, 4),
            "sla_targets_met": both.met,
            "sla_targets_breached": both.breached,
            "sla_targets_running": both.pending,
            "sla_attainment_by_group": {
                k: _round(v, 4) for k, v in self.sla_attainment_by_group.items()
            },
            "backlog_open": self.backlog_open,
            "backlog_age_hours_median": _round(self.backlog_age_hours_median),
            "backlog_age_hours_max": _round(self.backlog_age_hours_max),
            "backlog_by_age": dict(self.backlog_by_age),
            "resolved": self.resolved,
            "first_contact_resolution": _round(self.first_contact_resolution, 4),
            "nlu_messages": self.nlu_messages,
            "nlu_fallbacks": self.nlu_fallbacks,
            "nlu_fallback_per_100_messages": _round(self.nlu_fallback_per_100_messages),
            "nlu_fallback_by_intent": dict(self.nlu_fallback_by_intent),
            "changes_decided": self.changes_decided,
            "change_approval_minutes_mean": _round(self.change_approval_minutes_mean),
            "change_approval_minutes_median": _round(self.change_approval_minutes_median),
            "csat_responses": self.csat_responses,
            "csat_score_mean": _round(self.csat_score_mean),
            "csat_by_group": _rounded(self.csat_by_group),
            "csat_by_channel": _rounded(self.csat_by_channel),
            "deflected": self.deflected,
            "deflection_rate": _round(self.deflection_rate, 4),
            "supplier_sla_attainment": _round(self.supplier_sla_attainment, 4),
            "supplier_targets_met": self.supplier_targets.met,
            "supplier_targets_breached": self.supplier_targets.breached,
            "supplier_targets_running": self.supplier_targets.pending,
            "supplier_sla_attainment_by_supplier": {
                k: _round(v, 4) for k, v in self.supplier_attainment_by_supplier.items()
            },
            "sentiment_tickets": self.sentiment_tickets,
            "sentiment_negative_share": _round(self.sentiment_negative_share, 4),
            "sentiment_by_channel": {
                k: {m: round(v, 4) for m, v in c.items()}
                for k, c in self.sentiment_by_channel.items()
            },
            "sentiment_most_negative": [
                {"ref": m.ref, "channel": m.channel, "score": round(m.score, 4)}
                for m in self.sentiment_most_negative
            ],
            "notes": list(self.notes),
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in values.items()}


def minutes(start: datetime, end: datetime) -> float:
    """Wall-clock minutes from `start` to `end`."""
    return (end - start).total_seconds() / 60.0


def _mean_by(
    tickets: Iterable[TicketFacts],
    key: Callable[[TicketFacts], str | None],
    value: Callable[[TicketFacts], float | None],
) -> dict[str, float]:
    found: dict[str, list[float]] = defaultdict(list)
    for t in tickets:
        v = value(t)
        k = key(t)
        if v is not None and k is not None:
            found[k].append(v)
    return {k: fmean(vs) for k, vs in sorted(found.items())}


def time_to_acknowledge(t: TicketFacts) -> float | None:
    """Minutes from opening to the first response (someone took it), if there was one."""
    return minutes(t.created_at, t.responded_at) if t.responded_at else None


def time_to_resolve(t: TicketFacts) -> float | None:
    """Minutes from opening to resolution, if resolved."""
    return minutes(t.created_at, t.resolved_at) if t.resolved_at else None


def mean_of(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


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


def _tally(outcomes: Iterable[str | None]) -> Targets:
    c = Counter(o for o in outcomes if o is not None)
    return Targets(met=c["met"], breached=c["breached"], pending=c["running"])


def response_targets(tickets: Iterable[TicketFacts], now: datetime) -> Targets:
    return _tally(
        target_outcome(t.response_due_at, t.responded_at, t.paused_at, now)
        for t in tickets
        if t.has_sla
    )


def resolution_targets(tickets: Iterable[TicketFacts], now: datetime) -> Targets:
    return _tally(
        target_outcome(t.resolve_due_at, t.resolved_at, t.paused_at, now)
        for t in tickets
        if t.has_sla
    )


def first_contact(t: TicketFacts) -> bool:
    """Resolved by whoever first took it: never handed on, reopened or escalated."""
    return t.resolved_at is not None and t.assignments <= 1 and not t.reopened and not t.escalated


def backlog(
    open_tickets: Iterable[TicketFacts], now: datetime
) -> tuple[list[float], dict[str, int]]:
    """Ages in hours of tickets still open, and how many fall in each age bucket."""
    ages = sorted((now - t.created_at).total_seconds() / 3600.0 for t in open_tickets)
    buckets = dict.fromkeys((name for name, _ in AGE_BUCKETS), 0)
    for age in ages:
        name = next(n for n, limit in AGE_BUCKETS if age < limit)
        buckets[name] += 1
    return ages, buckets


def compute(
    *,
    since: datetime,
    until: datetime,
    tickets: Sequence[TicketFacts],
    open_tickets: Sequence[TicketFacts],
    intents: Mapping[str, int],
    changes: Sequence[ChangeDecision] = (),
    satisfaction: Sequence[Satisfaction] | None = None,
    deflected: int | None = None,
    supplier_targets: Sequence[SupplierTarget] = (),
    moods: Sequence[Mood] | None = None,
) -> Figures:
    """Every figure for tickets opened in [since, until), the backlog as it stands at `until`.

    `intents` counts the period's chat messages by the intent the router served (including
    `clarify`, `out_of_scope` and `handover`). `satisfaction` and `deflected` are None where
    the desk keeps no such data; their figures are then None as well.
    """
    now = until
    notes: list[str] = []
    by_channel = Counter(t.channel or "other" for t in tickets)
    by_kind = Counter(t.kind for t in tickets)
    by_service = Counter(t.service or "(no service)" for t in tickets)
    resolved = [t for t in tickets if t.resolved_at is not None]
    groups = sorted({t.group for t in tickets if t.group})
    sla_by_group = {
        g: (
            response_targets([t for t in tickets if t.group == g], now)
            + resolution_targets([t for t in tickets if t.group == g], now)
        ).attainment
        for g in groups
    }
    ages, buckets = backlog(open_tickets, now)
    messages = sum(intents.values())
    fallbacks = {k: v for k, v in intents.items() if k in UNCLEAR_INTENTS}
    decided = [c for c in changes if c.decided_at is not None]
    waits = [minutes(c.created_at, c.decided_at) for c in decided if c.decided_at]
    scores = list(satisfaction or ())
    if satisfaction is None:
        notes.append("no satisfaction survey data")
    if deflected is None:
        notes.append("no deflection data")
    offered = len(tickets) + (deflected or 0)
    if moods is None:
        notes.append("no sentiment data")
    suppliers = sorted({s.supplier for s in supplier_targets})
    return Figures(
        since=since,
        until=until,
        tickets_created=len(tickets),
        volume_by_channel=dict(by_channel.most_common()),
        volume_by_kind=dict(by_kind.most_common()),
        volume_by_service=dict(by_service.most_common()),
        volume_by_intent=dict(Counter(intents).most_common()),
        mtta_minutes=mean_of(time_to_acknowledge(t) for t in tickets),
        mttr_minutes=mean_of(time_to_resolve(t) for t in tickets),
        mtta_minutes_by_priority=_mean_by(tickets, lambda t: t.priority, time_to_acknowledge),
        mttr_minutes_by_priority=_mean_by(tickets, lambda t: t.priority, time_to_resolve),
        mtta_minutes_by_group=_mean_by(tickets, lambda t: t.group, time_to_acknowledge),
        mttr_minutes_by_group=_mean_by(tickets, lambda t: t.group, time_to_resolve),
        response_targets=response_targets(tickets, now),
        resolution_targets=resolution_targets(tickets, now),
        sla_attainment_by_group=sla_by_group,
        backlog_open=len(ages),
        backlog_age_hours_median=median(ages) if ages else None,
        backlog_age_hours_max=ages[-1] if ages else None,
        backlog_by_age=buckets,
        first_contact_resolution=(
            sum(first_contact(t) for t in resolved) / len(resolved) if resolved else None
        ),
        resolved=len(resolved),
        nlu_messages=messages,
        nlu_fallbacks=sum(fallbacks.values()),
        nlu_fallback_by_intent=fallbacks,
        changes_decided=len(decided),
        change_approval_minutes_mean=fmean(waits) if waits else None,
        change_approval_minutes_median=median(waits) if waits else None,
        csat_responses=len(scores),
        csat_score_mean=fmean(s.score for s in scores) if scores else None,
        csat_by_group=_mean_satisfaction(scores, lambda s: s.group),
        csat_by_channel=_mean_satisfaction(scores, lambda s: s.channel),
        deflected=deflected,
        deflection_rate=(deflected / offered if deflected is not None and offered else None),
        notes=tuple(notes),
        supplier_targets=supplier_outcomes(supplier_targets, now),
        supplier_attainment_by_supplier={
            name: supplier_outcomes(
                [s for s in supplier_targets if s.supplier == name], now
            ).attainment
            for name in suppliers
        },
        sentiment_tickets=len(moods or ()),
        sentiment_by_channel=sentiment_by_channel(moods or ()),
        sentiment_most_negative=tuple(
            sorted((m for m in moods or () if m.label == "negative"), key=lambda m: m.score)[:10]
        ),
    )


def supplier_outcomes(targets: Iterable[SupplierTarget], now: datetime) -> Targets:
    """Suppliers' resolution targets: met, breached, still running."""
    return _tally(target_outcome(t.resolve_due_at, t.ended_at, None, now) for t in targets)


def sentiment_by_channel(moods: Iterable[Mood]) -> dict[str, dict[str, float]]:
    """Per channel: tickets read, how many of each label, the negative share, the mean score."""
    found: dict[str, list[Mood]] = defaultdict(list)
    for m in moods:
        found[m.channel or "other"].append(m)
    out: dict[str, dict[str, float]] = {}
    for channel, ms in sorted(found.items()):
        labels = Counter(m.label for m in ms)
        out[channel] = {
            "tickets": len(ms),
            "negative": labels["negative"],
            "neutral": labels["neutral"],
            "positive": labels["positive"],
            "negative_share": labels["negative"] / len(ms),
            "score_mean": fmean(m.score for m in ms),
        }
    return out


def _mean_satisfaction(
    scores: Iterable[Satisfaction], key: Callable[[Satisfaction], str | None]
) -> dict[str, float]:
    found: dict[str, list[float]] = defaultdict(list)
    for s in scores:
        k = key(s)
        if k is not None:
            found[k].append(s.score)
    return {k: fmean(v) for k, v in sorted(found.items())}
