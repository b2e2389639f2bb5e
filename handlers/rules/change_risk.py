"""A change's risk: from the criticality of what it affects and its type.

The most critical service the change touches, or that depends on what it touches, sets the
starting point; an emergency change is one step riskier (less time to prepare and test), a
standard change one step safer (a pre-approved, repeated procedure). A change that names
nothing affected starts at medium: its reach is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from store.enums import ChangeType, Criticality


class Risk(StrEnum):
    """How much could go wrong, lowest first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    VERY_HIGH = "very high"


_ORDER = [Risk.LOW, Risk.MEDIUM, Risk.HIGH, Risk.VERY_HIGH]
_FROM_CRITICALITY = {
    Criticality.LOW: Risk.LOW,
    Criticality.MEDIUM: Risk.MEDIUM,
    Criticality.HIGH: Risk.HIGH,
    Criticality.CRITICAL: Risk.VERY_HIGH,
}
_STEP = {ChangeType.STANDARD: -1, ChangeType.NORMAL: 0, ChangeType.EMERGENCY: 1}


def risk_of(change_type: ChangeType, affected: Iterable[Criticality]) -> Risk:
    """The risk of a change of this type affecting services of these criticalities."""
    levels = [_ORDER.index(_FROM_CRITICALITY[c]) for c in affected]
    start = max(levels) if levels else _ORDER.index(Risk.MEDIUM)
    at = min(max(start + _STEP[change_type], 0), len(_ORDER) - 1)
    return _ORDER[at]
