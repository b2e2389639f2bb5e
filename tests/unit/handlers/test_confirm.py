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
