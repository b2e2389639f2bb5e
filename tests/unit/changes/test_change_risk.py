"""A change's risk from what it affects and its type."""

from __future__ import annotations

from handlers.rules.change_risk import Risk, risk_of
from store.enums import ChangeType, Criticality


def test_the_most_critical_affected_service_sets_the_risk() -> None:
    low_and_critical = [Criticality.LOW, Criticality.CRITICAL]
    assert risk_of(ChangeType.NORMAL, low_and_critical) is Risk.VERY_HIGH
    assert risk_of(ChangeType.NORMAL, [Criticality.HIGH, Criticality.LOW]) is Risk.HIGH
    assert risk_of(ChangeType.NORMAL, [Criticality.LOW]) is Risk.LOW


def test_emergency_is_riskier_and_standard_safer_within_the_scale() -> None:
    assert risk_of(ChangeType.EMERGENCY, [Criticality.MEDIUM]) is Risk.HIGH
    assert risk_of(ChangeType.EMERGENCY, [Criticality.CRITICAL]) is Risk.VERY_HIGH
    assert risk_of(ChangeType.STANDARD, [Criticality.HIGH]) is Risk.MEDIUM
    assert risk_of(ChangeType.STANDARD, [Criticality.LOW]) is Risk.LOW


def test_a_change_naming_nothing_starts_at_medium() -> None:
    assert risk_of(ChangeType.NORMAL, []) is Risk.MEDIUM
    assert risk_of(ChangeType.EMERGENCY, []) is Risk.HIGH
