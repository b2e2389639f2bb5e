"""When the bot may act on what it understood, and when it must ask first.

An intent that changes a ticket's state (resolve, reopen, escalate, cancel, approve, reject,
add a note) acts only at or above its own threshold and only on a ticket the person named or
the one ticket it can apply to; below it, the bot asks "Resolve INC-7 'VPN drops from home'?
Yes / No".

Each threshold comes from the calibrated one (`nlu/data/acting_thresholds.json`: per intent,
the lowest confidence at which 98 % of out-of-fold readings are right; `benchmarks/
nlu_thresholds.py --write`) within the intent's band. With 50-70 training messages per
intent, a few lines more or less move a calibrated value by several points (eight lines moved
resolve from 0.75 to 0.77 and approve from 0.73 to 0.78), so the floor stays in use unless
calibration asks for more than `MARGIN` above it, and the ceiling caps what it can ask. The floor of
a state change's band is what was set by hand before calibration (wrong readings seen in use
came at 0.45 and 0.58), so calibration can only make the bot ask more often, never less. A
typed yes or no answers a question the bot just asked: that context, which calibration on
lone messages does not see, is why their ceiling is lower.
"""

from __future__ import annotations

import math

from nlu.calibration import acting_thresholds
from nlu.types import IntentName

STEP = 0.05
"""Calibrated values are rounded up to this step before the band applies."""

MARGIN = 0.05
"""A calibrated value this close above the floor is noise: the floor stays in use."""

BANDS: dict[IntentName, tuple[float, float]] = {
    IntentName.RESOLVE_TICKET: (0.75, 0.9),
    IntentName.REOPEN_TICKET: (0.75, 0.9),
    IntentName.ESCALATE: (0.75, 0.9),
    IntentName.CANCEL: (0.75, 0.9),
    IntentName.APPROVE: (0.75, 0.9),
    IntentName.REJECT: (0.75, 0.9),
    IntentName.ADD_INFO: (0.7, 0.9),
    # A yes or no typed as the answer to a confirmation.
    IntentName.AFFIRM: (0.75, 0.8),
    IntentName.DENY: (0.7, 0.8),
}
"""(floor, ceiling) of each intent's acting threshold; an uncalibrated intent gets the ceiling."""


def banded(intent: IntentName, calibrated: float | None) -> float:
    """The threshold in use for a calibrated value.

    The floor, unless calibration asks for clearly more (over `MARGIN` above it): then the
    calibrated value rounded up to `STEP`, at most the ceiling.
    """
    floor, ceiling = BANDS[intent]
    if calibrated is None:
        return ceiling
    if calibrated <= floor + MARGIN:
        return floor
    stepped = math.ceil(round(calibrated / STEP, 6)) * STEP
    return round(min(ceiling, stepped), 2)


def _thresholds() -> dict[IntentName, float]:
    calibrated = acting_thresholds()
    return {intent: banded(intent, calibrated.get(intent.value)) for intent in BANDS}


THRESHOLDS: dict[IntentName, float] = _thresholds()
"""Confidence at or above which an intent that changes state is taken as meant."""

ACTING_FLOOR = 0.3
"""Below this, any intent is a guess: the router asks what was meant instead."""

NEW_REQUEST = 0.6
"""A message waiting to answer a question is a new request when another intent is this sure."""

STATE_CHANGING = frozenset(
    {
        IntentName.RESOLVE_TICKET,
        IntentName.REOPEN_TICKET,
        IntentName.ESCALATE,
        IntentName.CANCEL,
        IntentName.APPROVE,
        IntentName.REJECT,
        IntentName.ADD_INFO,
    }
)


def threshold(intent: IntentName) -> float:
    """The confidence an intent needs before the bot acts on it without asking."""
    return THRESHOLDS.get(intent, ACTING_FLOOR)


def is_certain(intent: IntentName, confidence: float) -> bool:
    """True when `confidence` is enough to act on `intent` without a confirmation."""
    return confidence >= threshold(intent)


def needs_confirmation(intent: IntentName, confidence: float, *, target_named: bool) -> bool:
    """A state change needs a yes unless both the intent and its target are certain."""
    if intent not in STATE_CHANGING:
        return False
    return not (target_named and is_certain(intent, confidence))
