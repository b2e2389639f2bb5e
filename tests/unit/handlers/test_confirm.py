"""When a state change needs a yes: the per-intent threshold table."""

from __future__ import annotations

import pytest

from handlers.rules import confirm
from nlu.types import IntentName


@pytest.mark.parametrize("intent", sorted(confirm.STATE_CHANGING))
def test_every_state_change_has_its_own_threshold(intent: IntentName) -> None:
    assert confirm.threshold(intent) > confirm.ACTING_FLOOR


@pytest.mark.parametrize(
    ("intent", "confidence", "named", "needed"),
    [
        (IntentName.RESOLVE_TICKET, 0.96, True, False),
        (IntentName.RESOLVE_TICKET, 0.96, False, True),
        (IntentName.REOPEN_TICKET, 0.58, True, True),
        (IntentName.ESCALATE, 0.18, True, True),
        (IntentName.APPROVE, 0.45, True, True),
        (IntentName.REJECT, 0.88, True, False),
        (IntentName.REPORT_INCIDENT, 0.45, False, False),
        (IntentName.CHECK_STATUS, 0.31, False, False),
    ],
)
def test_needs_confirmation(
    intent: IntentName, confidence: float, named: bool, needed: bool
) -> None:
    assert confirm.needs_confirmation(intent, confidence, target_named=named) is needed


def test_a_guess_below_the_floor_is_never_certain() -> None:
    assert not confirm.is_certain(IntentName.GREET, confirm.ACTING_FLOOR - 0.01)
    assert confirm.is_certain(IntentName.GREET, confirm.ACTING_FLOOR)


@pytest.mark.parametrize("intent", sorted(confirm.BANDS))
def test_the_threshold_in_use_stays_within_its_band_whatever_calibration_says(
    intent: IntentName,
) -> None:
    floor, ceiling = confirm.BANDS[intent]
    for calibrated in (0.0, 0.2, 0.5, 0.61, 0.79, 0.81, 0.99, 1.0, None):
        assert floor <= confirm.banded(intent, calibrated) <= ceiling
    assert floor <= confirm.THRESHOLDS[intent] <= ceiling


def test_calibration_moves_a_threshold_only_when_it_clearly_asks_for_more() -> None:
    # Noise just above the floor changes nothing...
    assert confirm.banded(IntentName.REOPEN_TICKET, 0.78) == 0.75
    assert confirm.banded(IntentName.RESOLVE_TICKET, 0.8) == 0.75
    # ...a clear rise is rounded up to the step...
    assert confirm.banded(IntentName.REOPEN_TICKET, 0.81) == 0.85
    # ...calibration never lowers a state change below the hand-set floor...
    assert confirm.banded(IntentName.ESCALATE, 0.2) == 0.75
    # ...and an intent calibration says is never right enough asks at the ceiling.
    assert confirm.banded(IntentName.APPROVE, 1.0) == 0.9
    assert confirm.banded(IntentName.APPROVE, None) == 0.9


def test_the_stored_calibration_is_the_one_in_use() -> None:
    from nlu.calibration import acting_thresholds

    stored = acting_thresholds()
    assert set(stored) >= {i.value for i in confirm.BANDS}
    for intent in confirm.BANDS:
        assert confirm.threshold(intent) == confirm.banded(intent, stored[intent.value])
