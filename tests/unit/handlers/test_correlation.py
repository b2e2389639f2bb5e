"""Correlation rules: one incident per fingerprint, resolved only when nobody worked it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.rules.correlation import Outcome, outcome, title, urgency, within_window
from store.enums import Level


def test_outcomes() -> None:
    assert outcome(firing=True, incident_open=None, touched=False) is Outcome.OPEN
    assert outcome(firing=True, incident_open=False, touched=False) is Outcome.OPEN
    assert outcome(firing=True, incident_open=True, touched=True) is Outcome.REPEAT
    assert outcome(firing=False, incident_open=True, touched=False) is Outcome.RESOLVE
    assert outcome(firing=False, incident_open=True, touched=True) is Outcome.TELL
    assert outcome(firing=False, incident_open=False, touched=False) is Outcome.IGNORE
    assert outcome(firing=False, incident_open=None, touched=False) is Outcome.IGNORE


def test_urgency_from_severity() -> None:
    assert urgency("critical") is Level.HIGH
    assert urgency(" Warning") is Level.MEDIUM
    assert urgency("info") is Level.LOW
    assert urgency("") is Level.LOW


def test_window_and_title() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert within_window(now - timedelta(hours=2), now)
    assert not within_window(now - timedelta(hours=2, seconds=1), now)
    assert title("Disk full", "db-7", known_service=False) == "Disk full (unknown CI: db-7)"
    assert title("Disk full", "Email", known_service=True) == "Disk full"
    assert title("", "", known_service=False) == "Monitoring alert"
