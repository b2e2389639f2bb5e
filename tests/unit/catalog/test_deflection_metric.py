"""`/metrics` counts deflection answers once their work is committed."""

from __future__ import annotations

from prometheus_client import REGISTRY

from bot import metrics


def value(outcome: str) -> float:
    found = REGISTRY.get_sample_value("switchboard_deflections_total", {"outcome": outcome})
    return found or 0.0


def test_answers_to_an_offer_are_counted_by_outcome() -> None:
    yes, no = value("deflected"), value("declined")
    metrics.count_outcomes(["deflect_yes", "report_incident", "deflect_no", "deflect_yes"])
    assert value("deflected") == yes + 2
    assert value("declined") == no + 1
