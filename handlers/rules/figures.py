"""The desk's figures from plain facts: volumes, response and resolution times, service levels.

Pure functions over values `store.reports` reads, so every figure can be checked against a
history with known answers. Times are wall-clock minutes or hours, named in each key
(`mtta_minutes`); fractions run 0–1. A figure without data is None ("no data"), never 0.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import fmean, median
from typing import Any

from handlers.rules.attainment import (
    Targets,
    resolution_targets,
    response_targets,
    supplier_outcomes,
)
from handlers.rules.facts import ChangeDecision, Mood, Satisfaction, SupplierTarget, TicketFacts
from store.enums import Status

# The facts and the targets live in `handlers.rules.facts` and `handlers.rules.attainment`;
# callers read these names from here.
__all__ = [
    "AGE_BUCKETS",
    "CLOSED",
    "UNCLEAR_INTENTS",
    "ChangeDecision",
    "Figures",
    "Mood",
    "Satisfaction",
    "SupplierTarget",
    "TicketFacts",
    "backlog",
    "compute",
    "first_contact",
    "mean_of",
    "minutes",
    "sentiment_by_channel",
    "time_to_acknowledge",
    "time_to_resolve",
]

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
        """Messages the bot did not understand, per hundred; None without messages."""
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
    """The mean of the values present; None when there are none."""
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


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
