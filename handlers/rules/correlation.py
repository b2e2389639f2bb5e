"""Alert correlation rules: what an alert does to the incident its fingerprint opened.

Pure functions, no I/O: the handler in `handlers/events.py` gathers the facts and applies
the outcome.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from store.enums import Level

OUTAGE_WINDOW = timedelta(hours=2)
"""How long after an alert was last seen a person's report on its service is linked to it."""

_URGENCY = {"critical": Level.HIGH, "warning": Level.MEDIUM}

UNCLASSIFIED = "unclassified"
"""The service an alert on an unknown (or no) CI is filed under, for the desk to triage.

Its incidents share no cause, so they are never linked to one another as one outage."""


class Outcome(StrEnum):
    """What to do with one alert."""

    OPEN = "open"
    """No open incident for this problem: open one."""
    REPEAT = "repeat"
    """The problem fires again while its incident is open: count it, never open a second."""
    RESOLVE = "resolve"
    """The problem cleared and nobody worked the incident: resolve it."""
    TELL = "tell"
    """The problem cleared but people worked the incident: tell them, leave it to them."""
    IGNORE = "ignore"
    """A clearance for an incident that is already closed, or that never opened."""


def urgency(severity: str) -> Level:
    """Urgency from the source's severity: critical → high, warning → medium, else low."""
    return _URGENCY.get(severity.strip().lower(), Level.LOW)


def outcome(*, firing: bool, incident_open: bool | None, touched: bool) -> Outcome:
    """The outcome for an alert, given its incident (None: there is none) and its history.

    `touched` is whether anyone but the monitoring source changed the incident.
    """
    if firing:
        return Outcome.REPEAT if incident_open else Outcome.OPEN
    if not incident_open:
        return Outcome.IGNORE
    return Outcome.TELL if touched else Outcome.RESOLVE


def within_window(last_seen: datetime, now: datetime, window: timedelta = OUTAGE_WINDOW) -> bool:
    """Whether an alert last seen at `last_seen` still marks an ongoing outage at `now`."""
    return now - last_seen <= window


def title(summary: str, ci: str, *, known_service: bool) -> str:
    """The incident title: the alert's summary, saying which CI was named when it is unknown."""
    text = summary.strip() or "Monitoring alert"
    if known_service or not ci:
        return text
    return f"{text} (unknown CI: {ci})"
