"""Prometheus series: what came in, how deep the queue is, how long handlers take, what went out.

With `PROMETHEUS_MULTIPROC_DIR` set (several web processes behind one port), every process
writes its samples there and `/metrics` adds them up (`exposition`), so a scrape sees one
set of counters whichever process answers it. The directory must be emptied before the
processes start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from store.hotpath import INSERTED
from store.models import Ticket

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

INBOX_EVENTS = Counter(
    "switchboard_inbox_events_total",
    "Inbound platform events by outcome (accepted, duplicate, rejected).",
    ["platform", "outcome"],
)
QUEUE_DEPTH = Gauge(
    "switchboard_queue_depth",
    "Events waiting in the work queue.",
    multiprocess_mode="livemostrecent",
)
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
    "switchboard_tickets_created_total",
    "Tickets opened, by kind and the channel they were raised on (`other`: monitoring, API).",
    ["kind", "channel"],
)
MQTT_MESSAGES = Counter(
    "switchboard_mqtt_messages_total",
    "MQTT messages by outcome (reading, quarantined).",
    ["outcome"],
)

DEFLECTIONS = Counter(
    "switchboard_deflections_total",
    "Knowledge articles offered before a ticket, by the answer: deflected (no ticket) or "
    "declined (filed).",
    ["outcome"],
)
NLU_FALLBACKS = Counter(
    "switchboard_nlu_fallbacks_total",
    "Messages the bot did not act on: a clarifying question, out of scope, or a hand-over "
    "to the desk after two clarifications.",
    ["outcome"],
)
FALLBACK_OUTCOMES = frozenset({"clarify", "out_of_scope", "handover"})


@cache
def deflection_outcomes() -> dict[str, str]:
    """Handled intents (the deflection answers' actions) and the outcome each counts as."""
    # Read from the handlers on first count (the worker's): the web role never loads them.
    from handlers.deflection import DECLINED, DEFLECTED, NO, YES

    return {YES: DEFLECTED, NO: DECLINED}


def count_outcomes(intents: Iterable[str]) -> None:
    """Count the deflection answers and the NLU fallbacks among intents just committed."""
    outcomes = deflection_outcomes()
    for intent in intents:
        outcome = outcomes.get(intent)
        if outcome is not None:
            DEFLECTIONS.labels(outcome).inc()
        if intent in FALLBACK_OUTCOMES:
            NLU_FALLBACKS.labels(intent).inc()


_NEW_TICKETS = "switchboard.new_tickets"


def exposition() -> tuple[bytes, str]:
    """The body and content type of a scrape: this process's series, or every process's."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def _channel(ticket: Ticket) -> str:
    origin = ticket.origin or {}
    return str(origin.get("channel") or "other")


# Counted once the transaction commits: a unit of work that rolls back and retries after a
# conflict would otherwise count its ticket twice. Every path that opens tickets (chat,
# alerts, forms, the API) goes through a session, so none is missed.
@event.listens_for(Session, "after_flush")
def _note_new_tickets(session: Session, flush_context: Any) -> None:
    new = [(t.kind.value, _channel(t)) for t in session.new if isinstance(t, Ticket)]
    if new:
        session.info.setdefault(_NEW_TICKETS, []).extend(new)


@event.listens_for(Session, "after_commit")
def _count_new_tickets(session: Session) -> None:
    # Tickets written as Core INSERTs on the hot path never pass through `session.new`.
    inserted = [
        (t.kind.value, _channel(t)) for t in session.info.get(INSERTED, ()) if isinstance(t, Ticket)
    ]
    for kind, channel in [*session.info.pop(_NEW_TICKETS, ()), *inserted]:
        TICKETS_CREATED.labels(kind, channel).inc()


@event.listens_for(Session, "after_transaction_end")
def _forget_new_tickets(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_NEW_TICKETS, None)
