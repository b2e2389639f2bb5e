"""NLU fallbacks are counted in /metrics by what the bot did instead of acting."""

from __future__ import annotations

from bot import metrics


def _value(outcome: str) -> float:
    return float(metrics.NLU_FALLBACKS.labels(outcome)._value.get())


def test_clarifications_out_of_scope_and_handovers_are_counted() -> None:
    before = {o: _value(o) for o in ("clarify", "out_of_scope", "handover")}
    metrics.count_outcomes(["clarify", "report_incident", "clarify", "out_of_scope", "handover"])
    assert _value("clarify") - before["clarify"] == 2
    assert _value("out_of_scope") - before["out_of_scope"] == 1
    assert _value("handover") - before["handover"] == 1
    body, _ = metrics.exposition()
    assert b'switchboard_nlu_fallbacks_total{outcome="clarify"}' in body
