"""Freeze windows, overlaps and collisions, change stages and problem stages: pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from handlers.rules import change_stages, freeze, known_errors
from handlers.rules.change_stages import StageError, Step
from handlers.rules.freeze import Freeze, FreezeVerdict, Planned, Window, WindowError
from handlers.rules.known_errors import ProblemStageError, Report
from store.changes import ChangeOutcome, ChangeStage
from store.enums import ChangeType, Status
from store.problems import ProblemStage


def at(hour: int, minute: int = 0, day: int = 5) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_a_window_must_end_after_it_starts_and_know_its_zone() -> None:
    with pytest.raises(WindowError, match="ends .* before it starts"):
        freeze.window(at(22), at(21))
    with pytest.raises(WindowError, match="before it starts"):
        freeze.window(at(22), at(22))
    with pytest.raises(WindowError, match="time zone"):
        freeze.window(datetime(2026, 12, 5, 22), at(23))
    assert freeze.window(at(22), at(23)) == Window(at(22), at(23))


def test_windows_are_half_open() -> None:
    change = Window(at(20), at(22))
    assert not change.overlaps(Window(at(22), at(23)))
    assert not Window(at(22), at(23)).overlaps(change)
    assert change.overlaps(Window(at(21, 59), at(23)))
    assert change.overlaps(Window(at(19), at(20, 1)))
    assert change.overlaps(Window(at(20, 30), at(21)))


def test_a_freeze_keeps_its_local_hours_across_daylight_saving() -> None:
    # Europe/Berlin: UTC+1 in winter, UTC+2 in summer.
    winter = freeze.local(date(2026, 12, 24), time(0), "Europe/Berlin")
    summer = freeze.local(date(2026, 7, 1), time(0), "Europe/Berlin")
    assert winter.astimezone(UTC) == datetime(2026, 12, 23, 23, tzinfo=UTC)
    assert summer.astimezone(UTC) == datetime(2026, 6, 30, 22, tzinfo=UTC)
    naive = freeze.wall_clock(datetime(2026, 12, 24, 0, 0), "America/New_York")
    assert naive.astimezone(UTC) == datetime(2026, 12, 24, 5, tzinfo=UTC)
    aware = freeze.wall_clock(at(3), "America/New_York")
    assert aware == at(3)


def test_freeze_boundaries_in_another_time_zone() -> None:
    start = freeze.local(date(2026, 12, 24), time(0), "Europe/Berlin")
    end = freeze.local(date(2026, 12, 27), time(0), "Europe/Berlin")
    xmas = Freeze("christmas", freeze.window(start, end), frozenset({"payroll"}))
    # 22:00-23:00 UTC on the 23rd is 23:00-00:00 in Berlin: ends exactly as the freeze starts.
    before = Window(datetime(2026, 12, 23, 22, tzinfo=UTC), datetime(2026, 12, 23, 23, tzinfo=UTC))
    assert freeze.freezes_hit(before, ["Payroll"], [xmas]) == []
    one_minute_in = Window(
        datetime(2026, 12, 23, 22, tzinfo=UTC), datetime(2026, 12, 23, 23, 1, tzinfo=UTC)
    )
    assert freeze.freezes_hit(one_minute_in, ["PAYROLL"], [xmas]) == [xmas]
    # The freeze ends at 23:00 UTC on the 26th; a change starting then is clear.
    after = Window(datetime(2026, 12, 26, 23, tzinfo=UTC), datetime(2026, 12, 27, 1, tzinfo=UTC))
    assert freeze.freezes_hit(after, ["payroll"], [xmas]) == []
    # Another service is not frozen.
    assert freeze.freezes_hit(one_minute_in, ["CRM"], [xmas]) == []


def test_only_emergency_changes_enter_a_freeze_with_an_extra_approver() -> None:
    hit = [Freeze("quarter-close", Window(at(0), at(23)), frozenset({"erp"}))]
    assert freeze.verdict(ChangeType.NORMAL, []) is FreezeVerdict.CLEAR
    assert freeze.verdict(ChangeType.NORMAL, hit) is FreezeVerdict.REFUSED
    assert freeze.verdict(ChangeType.STANDARD, hit) is FreezeVerdict.REFUSED
    assert freeze.verdict(ChangeType.EMERGENCY, hit) is FreezeVerdict.EXTRA_APPROVER
    assert "quarter-close" in freeze.refusal("CHG-1", hit)


def test_collisions_need_overlap_and_a_shared_or_dependent_item() -> None:
    # Item 5 is a database; 7 is the service that depends on it; 8 is unrelated.
    on_db = Planned("CHG-1", Window(at(22), at(23)), frozenset({5}), near=frozenset({7}))
    others = [
        Planned("CHG-2", Window(at(22, 30), at(23, 30)), frozenset({7})),
        Planned("CHG-3", Window(at(22, 30), at(23, 30)), frozenset({8})),
        Planned("CHG-4", Window(at(23), at(23, 30)), frozenset({7})),
        on_db,
    ]
    assert [c.ref for c in freeze.collisions(on_db, others)] == ["CHG-2"]
    # Whichever is scheduled first: the service's change sees the database's change too.
    # (and CHG-4, on the same service, overlapping it from 23:00).
    assert [c.ref for c in freeze.collisions(others[0], others)] == ["CHG-4", "CHG-1"]
    assert freeze.collisions(others[1], others) == []
    same = Planned("CHG-5", Window(at(22), at(22, 10)), frozenset({8}))
    assert freeze.collide(same, others[1]) is False  # 22:10 vs 22:30: no overlap
    assert freeze.collide(replace(same, span=Window(at(22), at(22, 31))), others[1])


def test_change_stages_move_in_order_and_name_what_is_allowed() -> None:
    stage = change_stages.after("CHG-1", Status.APPROVED, ChangeStage.PLANNED, Step.SCHEDULE)
    assert stage is ChangeStage.SCHEDULED
    assert (
        change_stages.after("CHG-1", Status.APPROVED, stage, Step.SCHEDULE) is ChangeStage.SCHEDULED
    )
    stage = change_stages.after("CHG-1", Status.APPROVED, stage, Step.IMPLEMENT)
    stage = change_stages.after("CHG-1", Status.IN_PROGRESS, stage, Step.REVIEW)
    stage = change_stages.after("CHG-1", Status.RESOLVED, stage, Step.CLOSE)
    assert stage is ChangeStage.CLOSED
    with pytest.raises(StageError, match="Allowed: schedule, implement"):
        change_stages.after("CHG-1", Status.APPROVED, ChangeStage.SCHEDULED, Step.CLOSE)
    with pytest.raises(StageError, match="cannot implement now. Allowed: schedule"):
        change_stages.after("CHG-1", Status.APPROVED, ChangeStage.PLANNED, Step.IMPLEMENT)
    with pytest.raises(StageError, match="it is closed"):
        change_stages.after("CHG-1", Status.CLOSED, ChangeStage.CLOSED, Step.SCHEDULE)


def test_nothing_happens_to_a_change_before_its_approval() -> None:
    for status in (Status.AWAITING_APPROVAL, Status.REJECTED, Status.NEW):
        with pytest.raises(StageError, match="once it is approved"):
            change_stages.after("CHG-9", status, ChangeStage.PLANNED, Step.SCHEDULE)
    with pytest.raises(StageError):
        change_stages.after("CHG-9", Status.CANCELLED, ChangeStage.SCHEDULED, Step.IMPLEMENT)


def test_reviews_for_failures_and_emergencies() -> None:
    assert not change_stages.needs_review(ChangeType.NORMAL, ChangeOutcome.SUCCESSFUL)
    assert change_stages.needs_review(ChangeType.NORMAL, ChangeOutcome.FAILED)
    assert change_stages.needs_review(ChangeType.STANDARD, ChangeOutcome.BACKED_OUT)
    assert change_stages.needs_review(ChangeType.EMERGENCY, ChangeOutcome.SUCCESSFUL)


def test_problem_stages() -> None:
    move = known_errors.move
    assert (
        move("PRB-1", ProblemStage.NEW, ProblemStage.INVESTIGATING, workaround="")
        is ProblemStage.INVESTIGATING
    )
    with pytest.raises(ProblemStageError, match="needs a workaround"):
        move("PRB-1", ProblemStage.INVESTIGATING, ProblemStage.KNOWN_ERROR, workaround=" ")
    assert (
        move("PRB-1", ProblemStage.INVESTIGATING, ProblemStage.KNOWN_ERROR, workaround="reboot")
        is ProblemStage.KNOWN_ERROR
    )
    with pytest.raises(ProblemStageError, match="Allowed: investigating, known error, closed"):
        move("PRB-1", ProblemStage.NEW, ProblemStage.RESOLVED, workaround="")
    with pytest.raises(ProblemStageError, match="it is closed"):
        move("PRB-1", ProblemStage.CLOSED, ProblemStage.NEW, workaround="")


def test_symptoms_match_when_all_words_of_one_are_said() -> None:
    symptoms = ["printer offline", "spooler crash"]
    assert known_errors.matches("The printer on floor 3 shows offline again", symptoms)
    assert not known_errors.matches("The printer is jammed", symptoms)
    assert known_errors.matches("anything at all", [])


def test_recurrence_needs_enough_similar_reports_inside_the_window() -> None:
    now = at(12)
    texts = ["VPN drops every hour", "vpn drops again", "the printer is jammed"]
    reports = [Report(i, now - timedelta(hours=i), t) for i, t in enumerate(texts, start=1)]
    # The printer report is not like the others: two similar ones are not three.
    assert known_errors.recurring(reports, now) == []
    assert [r.id for r in known_errors.recurring(reports, now, count=2)] == [2, 1]
    similar = [Report(i, now - timedelta(hours=i), "VPN drops every hour") for i in (1, 2, 3)]
    assert [r.id for r in known_errors.recurring(similar, now)] == [3, 2, 1]
    # One outside the window: not enough.
    late = [*similar[:2], Report(3, now - timedelta(hours=25), "VPN drops every hour")]
    assert known_errors.recurring(late, now) == []
    # Already offered: not offered again.
    assert known_errors.recurring(similar, now, offered=frozenset({1})) == []
