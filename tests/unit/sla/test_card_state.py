"""The SLA line on a ticket's card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.sla_state import describe
from handlers.tickets import card
from store.enums import Priority, Status, TicketKind
from store.models import Ticket

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


def incident(**columns: object) -> Ticket:
    values: dict[str, object] = {
        "kind": TicketKind.INCIDENT,
        "ref": "INC-7",
        "title": "VPN down",
        "status": Status.NEW,
        "priority": Priority.P1,
        "sla_name": "standard",
        "response_due_at": NOW + timedelta(minutes=4),
        "resolve_due_at": NOW + timedelta(hours=4),
        "version": 1,
    }
    values.update(columns)
    return Ticket(**values)


def test_time_left_to_the_next_target() -> None:
    assert describe(incident(), NOW) == "response due in 4m (10:04 UTC)"
    responded = incident(responded_at=NOW - timedelta(minutes=1))
    assert describe(responded, NOW) == "resolution due in 4h (14:00 UTC)"


def test_paused_breached_met_and_no_target() -> None:
    assert describe(incident(sla_paused_at=NOW), NOW) == "paused (on hold)"
    assert describe(incident(), NOW + timedelta(minutes=5)) == "response breached"
    late = incident(responded_at=NOW + timedelta(minutes=6))
    assert describe(late, NOW + timedelta(minutes=7)) == "response breached"
    done = incident(
        status=Status.RESOLVED,
        responded_at=NOW,
        resolved_at=NOW + timedelta(hours=1),
    )
    assert describe(done, NOW + timedelta(days=1)) == "met"
    assert describe(incident(sla_name=None, priority=Priority.P4), NOW) == "no target for P4"
    assert describe(incident(priority=None, sla_name=None), NOW) is None


def test_the_card_carries_it() -> None:
    drawn = card(incident(sla_name=None, priority=Priority.P4))
    assert ("SLA", "no target for P4") in drawn.fields
    assert "SLA: no target for P4" in drawn.lines()
