"""A ticket's service-level standing in a few words, for its card.

Read from the ticket's columns alone (the due instants are absolute, so time left is wall
time), so every place that draws a card can show it without another query.
"""

from __future__ import annotations

from datetime import datetime

from store.enums import Status
from store.models import Ticket

_DONE = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


def span(seconds: float) -> str:
    """`2d 3h`, `4h 10m`, `45s`: the two largest units."""
    rest = max(0, int(seconds))
    days, rest = divmod(rest, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts[:2]) or f"{secs}s"


def describe(ticket: Ticket, now: datetime) -> str | None:
    """`response due in 4m (14:35 UTC)`, `paused (on hold)`, `response breached`, `met`,
    `no target for P4`; None for a ticket without a priority (a change, a bare request).
    """
    if ticket.priority is None:
        return None
    if ticket.sla_name is None:
        return f"no target for {ticket.priority.value}"
    targets = (
        ("response", ticket.response_due_at, ticket.responded_at),
        ("resolution", ticket.resolve_due_at, ticket.resolved_at),
    )
    if ticket.status in _DONE or ticket.resolved_at is not None:
        missed = [w for w, due, met in targets if due is not None and met is not None and met > due]
        return f"{' and '.join(missed)} breached" if missed else "met"
    stopped = ticket.sla_paused_at
    at = stopped or now
    late = [w for w, due, met in targets if due is not None and met is None and at >= due]
    late += [w for w, due, met in targets if due is not None and met is not None and met > due]
    if late:
        return f"{' and '.join(dict.fromkeys(late))} breached" + (" (paused)" if stopped else "")
    if stopped is not None:
        return "paused (on hold)"
    ahead = [(w, due) for w, due, met in targets if due is not None and met is None]
    if not ahead:
        return "met"
    word, due = min(ahead, key=lambda p: p[1])
    return f"{word} due in {span((due - now).total_seconds())} ({due:%H:%M} UTC)"
