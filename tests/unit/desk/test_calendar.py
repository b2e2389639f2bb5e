"""Working-time arithmetic: business hours across weekends, holidays, DST and time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from handlers.rules.calendar import (
    ALWAYS,
    Calendar,
    CalendarError,
    Duration,
    parse_duration,
    parse_hours,
)

OFFICE = Calendar.build(
    "office", "Europe/Berlin", "Mon-Fri 08:00-18:00", holidays=["2026-12-25", "2026-12-24"]
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", Duration(seconds=30)),
        ("15m", Duration(seconds=900)),
        ("4h", Duration(seconds=14_400)),
        ("3d", Duration(days=3)),
        ("1d4h", Duration(days=1, seconds=14_400)),
        ("1h 30m", Duration(seconds=5_400)),
        (" 2H ", Duration(seconds=7_200)),
    ],
)
def test_durations_read_as_written(text: str, expected: Duration) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "h", "4x", "four hours", "0m", "4h later", "-1h"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(CalendarError):
        parse_duration(text)


def test_duration_prints_back() -> None:
    assert str(parse_duration("1d4h30m")) == "1d4h30m"
    assert str(parse_duration("90s")) == "1m30s"


def test_hours_lines_with_split_days_and_weekends() -> None:
    week = parse_hours(["Mon-Fri 08:00-12:00,13:00-17:00", "Sat 09:00-12:00"])
    assert week[0] == ((8 * 3600, 12 * 3600), (13 * 3600, 17 * 3600))
    assert week[5] == ((9 * 3600, 12 * 3600),)
    assert 6 not in week
    assert parse_hours("Mon-Sun 00:00-24:00")[6] == ((0, 86_400),)


@pytest.mark.parametrize(
    "hours",
    [
        "",
        "Mon-Fri",
        "Fri-Mon 08:00-18:00",
        "Mon 18:00-08:00",
        "Mon 08:00-25:00",
        "Xyz 08:00-10:00",
        "Mon 08:00-12:00,11:00-13:00",
        "Mon 8-18",
    ],
)
def test_bad_hours_are_refused(hours: str) -> None:
    with pytest.raises(CalendarError):
        parse_hours(hours)


def test_unknown_time_zone_and_bad_holiday_are_refused() -> None:
    with pytest.raises(CalendarError, match="does not exist"):
        Calendar.build("x", "Europe/Atlantis", "Mon-Fri 08:00-18:00")
    with pytest.raises(CalendarError, match="holiday"):
        Calendar.build("x", "UTC", "Mon-Fri 08:00-18:00", holidays=["25/12/2026"])


def test_hours_inside_a_working_day() -> None:
    # Tuesday 1 December 2026, 10:00 in Berlin (CET, UTC+1) is 09:00 UTC.
    assert OFFICE.add(utc(2026, 12, 1, 9), 4 * 3600) == utc(2026, 12, 1, 13)


def test_hours_carry_over_the_night() -> None:
    # 16:00 Berlin plus 4 working hours: 2 today, 2 from 08:00 tomorrow.
    assert OFFICE.add(utc(2026, 12, 1, 15), 4 * 3600) == utc(2026, 12, 2, 9)


def test_hours_skip_the_weekend() -> None:
    # Friday 4 December 17:00 Berlin + 4h: 1h Friday, 3h Monday from 08:00 → 11:00 Berlin.
    assert OFFICE.add(utc(2026, 12, 4, 16), 4 * 3600) == utc(2026, 12, 7, 10)


def test_a_report_outside_hours_starts_at_the_next_opening() -> None:
    # Saturday noon: the clock starts Monday 08:00 Berlin.
    assert OFFICE.add(utc(2026, 12, 5, 11), 15 * 60) == utc(2026, 12, 7, 7, 15)
    assert OFFICE.next_working(utc(2026, 12, 5, 11)) == utc(2026, 12, 7, 7)


def test_holidays_are_skipped() -> None:
    # Wednesday 23 December 17:00 Berlin + 2h: 1h that day, then 24th and 25th are holidays,
    # 26th/27th the weekend: the second hour runs on Monday 28th from 08:00.
    assert OFFICE.add(utc(2026, 12, 23, 16), 2 * 3600) == utc(2026, 12, 28, 8)


def test_a_target_that_runs_out_at_closing_is_due_at_closing() -> None:
    assert OFFICE.add(utc(2026, 12, 1, 15), 2 * 3600) == utc(2026, 12, 1, 17)


def test_working_days_keep_the_time_of_day() -> None:
    # Monday 16:00 Berlin + 3 working days → Thursday 16:00 Berlin.
    assert OFFICE.add_days(utc(2026, 11, 30, 15), 3) == utc(2026, 12, 3, 15)
    # Friday 16:00 + 1d → Monday 16:00.
    assert OFFICE.add_days(utc(2026, 12, 4, 15), 1) == utc(2026, 12, 7, 15)
    # Saturday: moves to Monday 08:00 first, then 1 working day → Tuesday 08:00.
    assert OFFICE.add_days(utc(2026, 12, 5, 11), 1) == utc(2026, 12, 8, 7)
    assert OFFICE.add_days(utc(2026, 12, 4, 15), 0) == utc(2026, 12, 4, 15)


def test_working_days_jump_holidays() -> None:
    # Wednesday 23 December 10:00 Berlin + 1d: 24th, 25th holidays, weekend → Monday 28th 10:00.
    assert OFFICE.add_days(utc(2026, 12, 23, 9), 1) == utc(2026, 12, 28, 9)


def test_a_shorter_day_ends_a_day_target_at_its_closing() -> None:
    cal = Calendar.build("short-friday", "UTC", ["Mon-Thu 08:00-18:00", "Fri 08:00-12:00"])
    # Thursday 3 December 2026 17:00 + 1d → Friday, which closes at 12:00.
    assert cal.add_days(utc(2026, 12, 3, 17), 1) == utc(2026, 12, 4, 12)


def test_office_hours_keep_local_time_across_dst() -> None:
    # Berlin moves from CET (UTC+1) to CEST (UTC+2) on Sunday 29 March 2026.
    # Friday 27 March 17:00 CET (16:00 UTC) + 2h → Monday 30 March 09:00 CEST = 07:00 UTC.
    assert OFFICE.add(utc(2026, 3, 27, 16), 2 * 3600) == utc(2026, 3, 30, 7)
    # Back to CET on Sunday 25 October 2026: Friday 17:00 CEST (15:00 UTC) + 2h
    # → Monday 26 October 09:00 CET = 08:00 UTC.
    assert OFFICE.add(utc(2026, 10, 23, 15), 2 * 3600) == utc(2026, 10, 26, 8)


def test_a_round_the_clock_day_is_23_hours_on_the_spring_change() -> None:
    cal = Calendar.build("24x7-berlin", "Europe/Berlin", "Mon-Sun 00:00-24:00")
    day_start = datetime(2026, 3, 28, 23, tzinfo=UTC)  # 29 March 00:00 CET
    day_end = datetime(2026, 3, 29, 22, tzinfo=UTC)  # 30 March 00:00 CEST
    assert cal.working_seconds(day_start, day_end) == 23 * 3600
    assert cal.add_days(day_start, 1) == day_end
    # In the autumn the day has 25 hours.
    assert cal.working_seconds(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23)) == 25 * 3600


def test_hours_that_cross_a_skipped_wall_time() -> None:
    # Opening at 02:30 on the morning the clock jumps from 02:00 to 03:00.
    cal = Calendar.build("night", "Europe/Berlin", "Sun 02:30-04:00")
    start = cal.next_working(utc(2026, 3, 28, 12))
    assert start == utc(2026, 3, 29, 1)  # 03:00 CEST, the first wall time that exists
    assert cal.working_seconds(start, utc(2026, 3, 29, 3)) == 3600


def test_time_zones_far_from_utc() -> None:
    tokyo = Calendar.build("tokyo", "Asia/Tokyo", "Mon-Fri 09:00-17:00")
    # Monday 7 December 2026 09:00 JST is Monday 00:00 UTC; 8h in → Monday 08:00 UTC.
    assert tokyo.add(utc(2026, 12, 6, 23), 8 * 3600) == utc(2026, 12, 7, 8)
    # Sunday 23:00 UTC is already Monday 08:00 in Tokyo: one hour before opening.
    assert tokyo.next_working(utc(2026, 12, 6, 23)) == utc(2026, 12, 7, 0)


def test_working_seconds_is_the_inverse_of_add() -> None:
    start = utc(2026, 12, 4, 16, 30)
    for seconds in (0, 1, 1800, 3600 * 7, 3600 * 31, 3600 * 100):
        end = OFFICE.add(start, seconds)
        assert OFFICE.working_seconds(start, end) == seconds
    assert OFFICE.working_seconds(utc(2026, 12, 5), utc(2026, 12, 6)) == 0
    assert OFFICE.working_seconds(utc(2026, 12, 2), utc(2026, 12, 1)) == 0


def test_the_continuous_calendar_is_plain_time() -> None:
    start = utc(2026, 12, 5, 11, 7)
    assert ALWAYS.add(start, 3600) == start + timedelta(hours=1)
    assert ALWAYS.add_days(start, 3) == start + timedelta(days=3)


def test_a_calendar_with_only_holidays_is_refused_not_looped() -> None:
    days = [date(2027, 1, 1) + timedelta(days=i) for i in range(3700)]
    cal = Calendar.build("never", "UTC", "Mon-Fri 08:00-18:00", holidays=days)
    with pytest.raises(CalendarError, match="no working time"):
        cal.add(utc(2027, 1, 1), 60)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        OFFICE.add(datetime(2026, 12, 1, 9), 60)  # noqa: DTZ001


# -- properties: cheap calendar arithmetic, so the fuzz profile's 10,000 examples stay fast --

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SPLIT = Calendar.build(
    "split", "America/New_York", ["Mon-Fri 09:00-12:00,13:00-17:30", "Sat 10:00-14:00"]
)
INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001  (hypothesis wants naive bounds)
    max_value=datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


# Two years of instants against two calendars: a couple of thousand examples already hit every
# weekday, holiday and DST edge many times; the fuzz profile's 10,000 would only add minutes.
FEW = settings(max_examples=2_000)


@FEW
@given(start=INSTANTS, seconds=st.integers(min_value=0, max_value=60 * 3600))
def test_adding_working_time_then_measuring_it_gives_it_back(start: datetime, seconds: int) -> None:
    for cal in (OFFICE, SPLIT):
        end = cal.add(start, seconds)
        assert end >= start
        assert cal.working_seconds(start, end) == pytest.approx(seconds, abs=1e-6)


@FEW
@given(start=INSTANTS, a=st.integers(0, 40 * 3600), b=st.integers(0, 40 * 3600))
def test_working_time_adds_up(start: datetime, a: int, b: int) -> None:
    assert SPLIT.add(SPLIT.add(start, a), b) == SPLIT.add(start, a + b) or (
        # Landing exactly on a closing time, the two steps may stop at closing while the one
        # step goes on to the next opening; both are the same amount of working time.
        SPLIT.working_seconds(SPLIT.add(SPLIT.add(start, a), b), SPLIT.add(start, a + b)) == 0
    )


@FEW
@given(start=INSTANTS, days=st.integers(0, 15))
def test_a_day_target_is_never_before_its_start(start: datetime, days: int) -> None:
    due = OFFICE.add_days(start, days)
    assert due >= start
    if days:
        assert OFFICE.working_seconds(start, due) > 0
