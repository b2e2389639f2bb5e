"""A ticket's service-level standing in a few words, for its card.

Read from the ticket's columns alone (the due instants are absolute, so time left is wall
time), so every place that draws a card can show it without another query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from handlers.replies import say
from store.enums import Status
from store.models import SupplierHandoff, Ticket

_DONE = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


def span(seconds: float, lang: str = "en") -> str:
    """`2d 3h`, `4h 10m`, `45s` (`2天3小时` in Chinese): the two largest units."""
    rest = max(0, int(seconds))
    days, rest = divmod(rest, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [
        say(lang, f"time.{u}", n=n) for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n
    ]
    # Chinese runs the units together: 2小时30分钟.
    return ("" if lang == "zh" else " ").join(parts[:2]) or say(lang, "time.s", n=secs)


def describe(ticket: Ticket, now: datetime, lang: str = "en") -> str | None:
    """The ticket's SLA state in words, such as `response due in 4m (14:35 UTC)`.

    Others read `paused (on hold)`, `response breached`, `met` or `no target for P4`; None for
    a ticket without a priority (a change, a bare request).
    """
    if ticket.priority is None:
        return None
    if ticket.sla_name is None:
        return say(lang, "sla.state.no_target", priority=ticket.priority.value)
    targets = (
        ("response", ticket.response_due_at, ticket.responded_at),
        ("resolution", ticket.resolve_due_at, ticket.resolved_at),
    )

    def breached(words: list[str]) -> str:
        named = say(lang, "sla.state.and").join(say(lang, f"sla.target.{w}") for w in words)
        return say(lang, "sla.state.breached", targets=named)

    if ticket.status in _DONE or ticket.resolved_at is not None:
        missed = [w for w, due, met in targets if due is not None and met is not None and met > due]
        return breached(missed) if missed else say(lang, "sla.state.met")
    stopped = ticket.sla_paused_at
    at = stopped or now
    late = [w for w, due, met in targets if due is not None and met is None and at >= due]
    late += [w for w, due, met in targets if due is not None and met is not None and met > due]
    if late:
        paused = say(lang, "sla.state.paused_too") if stopped else ""
        return breached(list(dict.fromkeys(late))) + paused
    if stopped is not None:
        return say(lang, "sla.state.paused")
    ahead = [(w, due) for w, due, met in targets if due is not None and met is None]
    if not ahead:
        return say(lang, "sla.state.met")
    word, due = min(ahead, key=lambda p: p[1])
    return say(
        lang,
        "sla.state.due",
        target=say(lang, f"sla.target.{word}"),
        left=span((due - now).total_seconds(), lang),
        at=f"{due:%H:%M}",
    )


@dataclass(frozen=True, slots=True)
class TargetState:
    """One target of a clock as integrations read it.

    `remaining_seconds` is wall time to the due instant, negative once overdue, frozen while
    paused, and None once the target was met (or the ticket ended).
    """

    target: str | None
    due_at: datetime | None
    remaining_seconds: int | None
    met_at: datetime | None
    paused: bool
    breached: bool


@dataclass(frozen=True, slots=True)
class ClockState:
    """A ticket's agreement and both its targets; `summary` is what the card shows."""

    agreement: str | None
    summary: str | None
    paused: bool
    response: TargetState | None
    resolution: TargetState | None


def _target(
    written: str | None,
    due: datetime | None,
    met: datetime | None,
    stopped: datetime | None,
    now: datetime,
    *,
    paused: bool = False,
) -> TargetState | None:
    if due is None:
        return None
    judged = met or stopped or now
    return TargetState(
        target=written,
        due_at=due,
        remaining_seconds=None if met else int((due - judged).total_seconds()),
        met_at=met,
        paused=paused and met is None,
        breached=judged > due if met else judged >= due,
    )


def clock_state(
    ticket: Ticket, now: datetime, targets: Mapping[str, Mapping[str, str]] | None = None
) -> ClockState:
    """The clock of a ticket at `now`.

    `targets` are its agreement's stored targets, when the caller has them, to name each target
    as the desk file wrote it (`4h`).
    """
    written = (targets or {}).get(ticket.priority.value if ticket.priority else "", {})
    ended = ticket.resolved_at or (ticket.closed_at if ticket.status in _DONE else None)
    paused = ticket.sla_paused_at if ended is None else None
    return ClockState(
        agreement=ticket.sla_name,
        summary=describe(ticket, now),
        paused=paused is not None,
        response=_target(
            written.get("response"),
            ticket.response_due_at,
            ticket.responded_at,
            paused or ended,
            now,
            paused=paused is not None,
        ),
        resolution=_target(
            written.get("resolve"),
            ticket.resolve_due_at,
            ended,
            paused,
            now,
            paused=paused is not None,
        ),
    )


def supplier_state(
    handoff: SupplierHandoff,
    now: datetime,
    targets: Mapping[str, str] | None = None,
    *,
    ended_at: datetime | None = None,
) -> tuple[TargetState | None, TargetState | None]:
    """The supplier's response and resolution targets since the hand-off.

    The supplier's reply comes by mail and is out of Switchboard's sight, so a response
    target is judged against the present until the hand-off ends (`ended_at`, or the
    ticket's resolution passed in).
    """
    written = targets or {}
    ended = handoff.ended_at or ended_at
    return (
        _target(written.get("response"), handoff.response_due_at, None, ended, now),
        _target(written.get("resolve"), handoff.resolve_due_at, ended, None, now),
    )
