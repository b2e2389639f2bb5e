"""Prometheus series: what came in, how deep the queue is, how long handlers take, what went out."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from handlers.deflection import DECLINED, DEFLECTED, NO, YES

INBOX_EVENTS = Counter(
    "switchboard_inbox_events_total",
    "Inbound platform events by outcome (accepted, duplicate, rejected).",
    ["platform", "outcome"],
)
QUEUE_DEPTH = Gauge("switchboard_queue_depth", "Events waiting in the work queue.")
QUEUE_REDELIVERIES = Counter(
    "switchboard_queue_redeliveries_total", "Events processed more than once after a failure."
)
DEAD_LETTERS = Counter("switchboard_dead_letters_total", "Events or replies given up on.", ["kind"])
HANDLER_SECONDS = Histogram(
    "switchboard_handler_seconds",
    "Time to handle one event, by intent (NLU excluded).",
    ["intent"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
NLU_SECONDS = Histogram(
    "switchboard_nlu_seconds",
    "Time to parse a batch of texts.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
NLU_CONFIDENCE = Histogram(
    "switchboard_nlu_confidence",
    "Confidence of the top intent.",
    ["intent"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
OUTBOX_SENDS = Counter(
    "switchboard_outbox_send_total",
    "Reply delivery attempts by result (sent, retry, dead, unknown).",
    ["platform", "result"],
)
TICKETS_CREATED = Counter(
    "switchboard_tickets_created_total", "Tickets opened through chat.", ["kind"]
)

DEFLECTIONS = Counter(
    "switchboard_deflections_total",
    "Knowledge articles offered before a ticket, by the answer: deflected (no ticket) or "
    "declined (filed).",
    ["outcome"],
)
DEFLECTION_OUTCOMES = {YES: DEFLECTED, NO: DECLINED}
"""Handled intents (the deflection answers' actions) and the outcome each counts as."""


def count_outcomes(intents: Iterable[str]) -> None:
    """Count the deflection answers among intents whose work has just been committed."""
    for intent in intents:
        outcome = DEFLECTION_OUTCOMES.get(intent)
        if outcome is not None:
            DEFLECTIONS.labels(outcome).inc()
