"""Release status from its changes, windows that contain theirs, and chat windows."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

from handlers.rules import freeze
from handlers.rules.releases import Member, name_in, outside, status_of
from store.changes import ChangeOutcome, ChangeStage
from store.enums import Status
from store.releases import ReleaseStatus

AWAIT = Member(Status.AWAITING_APPROVAL, ChangeStage.PLANNED)
OK = Member(Status.APPROVED, ChangeStage.SCHEDULED)
STARTED = Member(Status.IN_PROGRESS, ChangeStage.IMPLEMENTING)
DONE = Member(Status.RESOLVED, ChangeStage.REVIEW, ChangeOutcome.SUCCESSFUL)
FAILED = Member(Status.RESOLVED, ChangeStage.REVIEW, ChangeOutcome.FAILED)
BACKED = Member(Status.CLOSED, ChangeStage.CLOSED, ChangeOutcome.BACKED_OUT)
REJECTED = Member(Status.REJECTED, ChangeStage.PLANNED)
CANCELLED = Member(Status.CANCELLED, ChangeStage.PLANNED)


def test_the_status_follows_the_changes() -> None:
    assert status_of([]) is ReleaseStatus.PLANNED
    assert status_of([CANCELLED]) is ReleaseStatus.PLANNED
    assert status_of([AWAIT, OK]) is ReleaseStatus.AWAITING_APPROVAL
    assert status_of([OK, OK, CANCELLED]) is ReleaseStatus.APPROVED
    assert status_of([REJECTED, AWAIT]) is ReleaseStatus.REJECTED
    assert status_of([STARTED, OK]) is ReleaseStatus.IN_PROGRESS
    assert status_of([DONE, OK]) is ReleaseStatus.IN_PROGRESS
    assert status_of([DONE, DONE, CANCELLED]) is ReleaseStatus.COMPLETE
    assert status_of([DONE, FAILED]) is ReleaseStatus.FAILED
    assert status_of([STARTED, BACKED]) is ReleaseStatus.FAILED


def test_release_names() -> None:
    assert name_in("approve r-12 please") == "R-12"
    assert name_in("approve R-007") == "R-7"
    assert name_in("approve CHG-12") is None
    assert name_in("PR-12") is None


def test_a_change_window_must_fit_in_the_release() -> None:
    sat = datetime(2027, 3, 6, 22, tzinfo=UTC)
    release = freeze.window(sat, sat + timedelta(hours=4))
    assert not outside(release, sat, sat + timedelta(hours=4))
    assert not outside(release, None, None)
    assert outside(release, sat - timedelta(minutes=1), sat + timedelta(hours=1))
    assert outside(release, sat + timedelta(hours=3), sat + timedelta(hours=5))


def test_a_bare_clock_time_ends_on_the_start_day_or_the_next() -> None:
    start = datetime(2027, 3, 6, 22, tzinfo=UTC)
    parsed_wrongly = datetime(2026, 12, 5, 14, tzinfo=UTC)
    assert freeze.clock_in(" 02:00") == time(2)
    assert freeze.clock_in("11pm") == time(23)
    assert freeze.clock_in("12am") == time(0)
    assert freeze.clock_in("Sunday 02:00") is None
    assert freeze.clock_in("2") is None
    assert freeze.until(start, parsed_wrongly, time(2)) == datetime(2027, 3, 7, 2, tzinfo=UTC)
    assert freeze.until(start, parsed_wrongly, time(23)) == datetime(2027, 3, 6, 23, tzinfo=UTC)
    # A day named with the end is kept, so an inverted window is still refused.
    assert freeze.until(start, parsed_wrongly, None) == parsed_wrongly
    berlin = timezone(timedelta(hours=1))
    local = datetime(2027, 3, 6, 22, tzinfo=berlin)
    assert freeze.until(local, parsed_wrongly, time(1)) == datetime(2027, 3, 7, 1, tzinfo=berlin)


def test_a_change_naming_no_item_meets_every_freeze_in_its_window() -> None:
    span = freeze.window(datetime(2027, 12, 30, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))
    year_end = freeze.Freeze(
        "year-end",
        freeze.window(datetime(2027, 12, 28, tzinfo=UTC), datetime(2028, 1, 2, tzinfo=UTC)),
        frozenset({"payroll"}),
    )
    assert freeze.freezes_hit(span, [], [year_end]) == [year_end]
    assert freeze.freezes_hit(span, ["CRM"], [year_end]) == []
    said = freeze.refusal("CHG-1", [year_end], unscoped=True)
    assert "year-end" in said
    assert "names no configuration item" in said
