"""Service levels: which agreement a ticket falls under, and its response and resolution clocks.

Targets count working time on the agreement's calendar. A clock pauses while its ticket is on
hold; on resume every instant still ahead of the pause moves later by the working time spent
on hold, and instants already passed stay where they were (a breach is never undone). A
target warns at 75 % of its working time and breaches at 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from handlers.rules.calendar import Calendar, Duration
from store.enums import Priority, TicketKind

WARN_AT = 0.75


class Target(StrEnum):
    """The two promises an agreement makes per priority."""

    RESPONSE = "response"
    RESOLVE = "resolve"


class Stage(StrEnum):
    """Where a target stands: on track, warned (75 % used), breached (100 % used)."""

    OK = "ok"
    WARNING = "warning"
    BREACH = "breach"


@dataclass(frozen=True, slots=True)
class Targets:
    """Response and resolution durations for one priority; either may be absent."""

    response: Duration | None = None
    resolve: Duration | None = None


@dataclass(frozen=True, slots=True)
class AppliesTo:
    """Which tickets an agreement covers; an unset field matches any value."""

    organisation: str | None = None
    kind: TicketKind | None = None
    service: str | None = None

    @property
    def specificity(self) -> int:
        """How many fields are set: the more, the more specific."""
        return sum(v is not None for v in (self.organisation, self.kind, self.service))

    def matches(self, *, organisation: str | None, kind: TicketKind, service: str | None) -> bool:
        """Whether a ticket with these attributes is covered (names compare case-insensitively)."""
        return (
            _same(self.organisation, organisation)
            and (self.kind is None or self.kind is kind)
            and _same(self.service, service)
        )

    def overlaps(self, other: AppliesTo) -> bool:
        """Whether some ticket would be covered by both."""
        return (
            _compatible(self.organisation, other.organisation)
            and (self.kind is None or other.kind is None or self.kind is other.kind)
            and _compatible(self.service, other.service)
        )


def _same(wanted: str | None, actual: str | None) -> bool:
    return wanted is None or (actual is not None and wanted.casefold() == actual.casefold())


def _compatible(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a.casefold() == b.casefold()


@dataclass(frozen=True)
class Policy:
    """One agreement (or a supplier's underpinning contract): its scope, calendar and targets."""

    name: str
    applies_to: AppliesTo
    calendar: Calendar
    targets: Mapping[Priority, Targets]


def conflicts(policies: Iterable[Policy]) -> list[tuple[Policy, Policy]]:
    """Pairs of agreements of equal specificity that would both cover some ticket."""
    items = list(policies)
    return [
        (a, b)
        for i, a in enumerate(items)
        for b in items[i + 1 :]
        if a.applies_to.specificity == b.applies_to.specificity
        and a.applies_to.overlaps(b.applies_to)
    ]


def choose(
    policies: Iterable[Policy],
    *,
    organisation: str | None,
    kind: TicketKind,
    service: str | None = None,
) -> Policy | None:
    """The most specific agreement covering the ticket, or None.

    Import refuses agreements that tie; should a tie slip through anyway, the first by name
    wins so the answer never depends on the order rows come back in.
    """
    found = [
        p
        for p in policies
        if p.applies_to.matches(organisation=organisation, kind=kind, service=service)
    ]
    if not found:
        return None
    return min(found, key=lambda p: (-p.applies_to.specificity, p.name))


@dataclass(frozen=True, slots=True)
class Clock:
    """A ticket's service-level instants, all UTC; None where a target does not apply.

    `paused_seconds` is the working time spent on hold so far, so a clock recomputed after a
    priority change keeps the pauses it already had.
    """

    policy: str
    started_at: datetime
    response_warn_at: datetime | None = None
    response_due_at: datetime | None = None
    resolve_warn_at: datetime | None = None
    resolve_due_at: datetime | None = None
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: float = 0.0

    def instants(self, target: Target) -> tuple[datetime | None, datetime | None]:
        """(warning, due) of one target."""
        if target is Target.RESPONSE:
            return self.response_warn_at, self.response_due_at
        return self.resolve_warn_at, self.resolve_due_at

    def met_at(self, target: Target) -> datetime | None:
        """When the target was met (first response, resolution), if it was."""
        return self.responded_at if target is Target.RESPONSE else self.resolved_at


def _due(
    calendar: Calendar, start: datetime, duration: Duration | None
) -> tuple[datetime | None, datetime | None]:
    if duration is None:
        return None, None
    due = calendar.add_duration(start, duration)
    total = calendar.working_seconds(start, due)
    return calendar.add(start, total * WARN_AT), due


def start(policy: Policy, priority: Priority | None, at: datetime) -> Clock | None:
    """The clock of a ticket opened at `at`; None when its priority has no target."""
    targets = policy.targets.get(priority) if priority else None
    if targets is None or (targets.response is None and targets.resolve is None):
        return None
    response_warn, response_due = _due(policy.calendar, at, targets.response)
    resolve_warn, resolve_due = _due(policy.calendar, at, targets.resolve)
    return Clock(
        policy=policy.name,
        started_at=at,
        response_warn_at=response_warn,
        response_due_at=response_due,
        resolve_warn_at=resolve_warn,
        resolve_due_at=resolve_due,
    )


def reprioritise(policy: Policy, priority: Priority | None, clock: Clock) -> Clock | None:
    """The clock after a priority change: targets of the new priority from the original start.

    Working time already spent on hold is added again, and a pause in progress, a response
    or a resolution already recorded carry over.
    """
    fresh = start(policy, priority, clock.started_at)
    if fresh is None:
        return None
    cal = policy.calendar

    def shift(instant: datetime | None) -> datetime | None:
        if instant is None or not clock.paused_seconds:
            return instant
        return cal.add(instant, clock.paused_seconds)

    return replace(
        fresh,
        response_warn_at=shift(fresh.response_warn_at),
        response_due_at=shift(fresh.response_due_at),
        resolve_warn_at=shift(fresh.resolve_warn_at),
        resolve_due_at=shift(fresh.resolve_due_at),
        responded_at=clock.responded_at,
        resolved_at=clock.resolved_at,
        paused_at=clock.paused_at,
        paused_seconds=clock.paused_seconds,
    )


def pause(clock: Clock, at: datetime) -> Clock:
    """Stop the clock (the ticket went on hold); pausing a paused clock changes nothing."""
    if clock.paused_at is not None:
        return clock
    return replace(clock, paused_at=at)


def resume(clock: Clock, calendar: Calendar, at: datetime) -> Clock:
    """Restart the clock: instants still ahead of the pause move by the working time on hold."""
    paused = clock.paused_at
    if paused is None:
        return clock

    def shift(instant: datetime | None, met: datetime | None) -> datetime | None:
        if instant is None or met is not None or instant <= paused:
            return instant
        return calendar.add(at, calendar.working_seconds(paused, instant))

    return replace(
        clock,
        response_warn_at=shift(clock.response_warn_at, clock.responded_at),
        response_due_at=shift(clock.response_due_at, clock.responded_at),
        resolve_warn_at=shift(clock.resolve_warn_at, clock.resolved_at),
        resolve_due_at=shift(clock.resolve_due_at, clock.resolved_at),
        paused_at=None,
        paused_seconds=clock.paused_seconds + calendar.working_seconds(paused, at),
    )


@dataclass(frozen=True, slots=True)
class Alert:
    """A moment the scheduler acts on: a target reaching its warning or its breach."""

    target: Target
    stage: Stage
    at: datetime


def alerts(clock: Clock) -> list[Alert]:
    """Every warning and breach still to come, in time order (none while paused or resolved)."""
    if clock.paused_at is not None or clock.resolved_at is not None:
        return []
    found = []
    for target in Target:
        if clock.met_at(target) is not None:
            continue
        warn, due = clock.instants(target)
        if warn is not None:
            found.append(Alert(target, Stage.WARNING, warn))
        if due is not None:
            found.append(Alert(target, Stage.BREACH, due))
    return sorted(found, key=lambda a: (a.at, a.stage is Stage.BREACH))


def due_between(clock: Clock, after: datetime | None, until: datetime) -> list[Alert]:
    """Alerts in (after, until]: what a scheduler that last looked at `after` must act on now."""
    return [a for a in alerts(clock) if (after is None or a.at > after) and a.at <= until]


def next_due(clock: Clock, after: datetime) -> datetime | None:
    """The first alert strictly after `after`: when the scheduler needs to look again."""
    return next((a.at for a in alerts(clock) if a.at > after), None)


@dataclass(frozen=True, slots=True)
class Standing:
    """One target at one moment: how much of its working time is used, and the stage."""

    target: Target
    used: float
    stage: Stage


def standing(clock: Clock, calendar: Calendar, target: Target, now: datetime) -> Standing | None:
    """How a target stands at `now` (None when it has no due time).

    A met target is judged at the moment it was met; a paused one at the moment it paused;
    every target of a resolved ticket at its resolution.
    """
    warn, due = clock.instants(target)
    if due is None:
        return None
    stops = (now, clock.met_at(target), clock.paused_at, clock.resolved_at)
    at = min(t for t in stops if t is not None)
    total = calendar.working_seconds(clock.started_at, due) - clock.paused_seconds
    left = calendar.working_seconds(at, due)
    late = calendar.working_seconds(due, at)
    used = (total - left + late) / total if total > 0 else 1.0
    if at >= due:
        stage = Stage.BREACH
    elif warn is not None and at >= warn:
        stage = Stage.WARNING
    else:
        stage = Stage.OK
    return Standing(target=target, used=used, stage=stage)
