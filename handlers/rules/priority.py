"""Priority from impact and urgency: the ITIL 3 x 3 matrix, P1 (critical) to P5 (planning)."""

from __future__ import annotations

from store.enums import Criticality, Level, Priority

_MATRIX: dict[tuple[Level, Level], Priority] = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P5,
}

_ORDER = [Level.LOW, Level.MEDIUM, Level.HIGH]

_BY_CRITICALITY = {
    Criticality.CRITICAL: Level.HIGH,
    Criticality.HIGH: Level.MEDIUM,
    Criticality.MEDIUM: Level.MEDIUM,
    Criticality.LOW: Level.LOW,
}


def priority(impact: Level, urgency: Level) -> Priority:
    """The priority for an impact and an urgency."""
    return _MATRIX[(impact, urgency)]


def impact(criticality: Criticality | None, reach: Level | None = None) -> Level:
    """Impact from the affected service's criticality and how many people it touches.

    `reach` is what the report says about scope: HIGH for "the whole office", LOW for
    "just me". It moves the service's baseline one step, never more; with a critical service
    a wide outage is already at the top. An unknown service counts as medium.
    """
    base = _BY_CRITICALITY[criticality] if criticality else Level.MEDIUM
    if reach is None or reach is Level.MEDIUM:
        return base
    step = 1 if reach is Level.HIGH else -1
    i = min(max(_ORDER.index(base) + step, 0), len(_ORDER) - 1)
    return _ORDER[i]


def raise_level(level: Level) -> Level:
    """One step more urgent (escalation), capped at high."""
    return _ORDER[min(_ORDER.index(level) + 1, len(_ORDER) - 1)]


def is_major(p: Priority) -> bool:
    """P1 and P2 incidents are announced and get the major-incident treatment."""
    return p in (Priority.P1, Priority.P2)
