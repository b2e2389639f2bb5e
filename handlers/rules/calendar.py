"""Business calendars and working-time arithmetic.

A calendar is a time zone, weekly working hours and holidays. Working hours are wall-clock
times in the calendar's zone, so a working day keeps its 08:00 start across a DST change
while its length in real time follows the clock (a 24x7 day in Berlin is 23 hours long on
the last Sunday of March). All arithmetic is done on UTC instants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_SECONDS = 86_400
# A calendar with working hours meets at least one working day in any ten years; a longer
# search means the holidays cover every working day, which is refused rather than looped on.
_HORIZON_DAYS = 3_660

_UNIT = {"s": 1, "m": 60, "h": 3_600}
_DURATION = re.compile(r"(\d+)\s*([smhd])")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class CalendarError(ValueError):
    """A calendar, an hours line or a duration that cannot be read; the message says why."""


@dataclass(frozen=True, slots=True)
class Duration:
    """A target such as `4h` or `3d`: whole working days of a calendar, then working seconds."""

    days: int = 0
    seconds: int = 0

    def __str__(self) -> str:
        parts = [f"{self.days}d"] if self.days else []
        rest = self.seconds
        for unit, size in (("h", 3_600), ("m", 60), ("s", 1)):
            if rest >= size:
                parts.append(f"{rest // size}{unit}")
                rest %= size
        return "".join(parts) or "0s"


def parse_duration(text: str | int) -> Duration:
    """`30s`, `15m`, `4h`, `3d`, or a combination such as `1d4h` or `1h 30m`.

    `d` is a working day of the calendar the duration is counted on, not 24 hours.
    """
    raw = str(text).strip().lower()
    pos = 0
    days = seconds = 0
    for found in _DURATION.finditer(raw):
        if raw[pos : found.start()].strip():
            break
        count, unit = int(found.group(1)), found.group(2)
        if unit == "d":
            days += count
        else:
            seconds += count * _UNIT[unit]
        pos = found.end()
    if pos == 0 or raw[pos:].strip():
        raise CalendarError(f"{text!r} is not a duration; write it like 30s, 15m, 4h or 3d")
    if days == 0 and seconds == 0:
        raise CalendarError(f"{text!r} is zero; a target must be longer than that")
    return Duration(days=days, seconds=seconds)


def zone(name: str) -> ZoneInfo:
    """The time zone called `name` (IANA, like Europe/Berlin), or a CalendarError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise CalendarError(f"time zone {name!r} does not exist") from e


Span = tuple[int, int]
"""Working time within a day, in seconds after local midnight: [start, end), end ≤ 86400."""


def _days(text: str) -> list[int]:
    picked: list[int] = []
    for part in text.split(","):
        bounds = [b.strip().lower()[:3] for b in part.split("-")]
        if len(bounds) > 2 or any(b not in DAYS for b in bounds):
            raise CalendarError(f"{text!r} is not a list of days like Mon-Fri or Sat,Sun")
        first, last = DAYS.index(bounds[0]), DAYS.index(bounds[-1])
        if last < first:
            raise CalendarError(f"{part.strip()!r} runs backwards; write Mon-Fri")
        picked.extend(range(first, last + 1))
    return picked


def _span(text: str) -> Span:
    found = _SPAN.match(text.strip())
    if not found:
        raise CalendarError(f"{text!r} is not a time range like 08:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if m1 > 59 or m2 > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise CalendarError(f"{text!r} is not a time range like 08:00-18:00")
    start, end = h1 * 3_600 + m1 * 60, h2 * 3_600 + m2 * 60
    if end <= start:
        raise CalendarError(f"{text!r} ends before it starts")
    return start, end


def parse_hours(lines: str | Iterable[str]) -> dict[int, tuple[Span, ...]]:
    """Weekly hours from lines like `Mon-Fri 08:00-12:00,13:00-17:00` (`;` also separates lines).

    Returns spans per weekday (0 = Monday); a day not named is not a working day.
    """
    if isinstance(lines, str):
        lines = [lines]
    week: dict[int, list[Span]] = {}
    for line in (part for text in lines for part in str(text).split(";")):
        if not line.strip():
            continue
        words = line.strip().split(None, 1)
        if len(words) != 2:
            raise CalendarError(f"{line.strip()!r} needs days and times, like Mon-Fri 08:00-18:00")
        spans = [_span(s) for s in words[1].split(",")]
        for day in _days(words[0]):
            week.setdefault(day, []).extend(spans)
    if not week:
        raise CalendarError("working hours are empty; write them like Mon-Fri 08:00-18:00")
    result: dict[int, tuple[Span, ...]] = {}
    for day, spans in week.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if start < end:
                raise CalendarError(f"working hours overlap on {DAYS[day].title()}")
        result[day] = tuple(spans)
    return result


@dataclass(frozen=True)
class Calendar:
    """When work happens: `hours` per weekday in `tz`, none on `holidays` (local dates)."""

    name: str
    tz: ZoneInfo
    hours: dict[int, tuple[Span, ...]]
    holidays: frozenset[date] = field(default_factory=frozenset)
    # Each local day's intervals are computed once: time-zone conversion is the costly part.
    _cache: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def build(
        cls,
        name: str,
        timezone: str,
        hours: str | Iterable[str],
        holidays: Iterable[date | str] = (),
    ) -> Calendar:
        """A calendar from the desk file's fields; a CalendarError says what is wrong."""
        days: set[date] = set()
        for h in holidays:
            try:
                days.add(h if isinstance(h, date) else date.fromisoformat(str(h)))
            except ValueError as e:
                raise CalendarError(f"holiday {h!r} is not a date like 2026-12-25") from e
        return cls(name=name, tz=zone(timezone), hours=parse_hours(hours), holidays=frozenset(days))

    def is_working_day(self, day: date) -> bool:
        """Whether `day` has working hours and is not a holiday."""
        return day not in self.holidays and bool(self.hours.get(day.weekday()))

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals of a local date as UTC instants, in order."""
        found = self._cache.get(day)
        if found is None:
            if len(self._cache) > 4_096:
                self._cache.clear()
            found = self._cache[day] = tuple(self._compute(day))
        return found

    def _compute(self, day: date) -> list[tuple[datetime, datetime]]:
        if not self.is_working_day(day):
            return []
        midnight = datetime.combine(day, time(0))
        out = []
        for start, end in self.hours[day.weekday()]:
            a = self._utc(midnight + timedelta(seconds=start))
            b = self._utc(midnight + timedelta(seconds=end))
            if b > a:
                out.append((a, b))
        return out

    def _utc(self, wall: datetime) -> datetime:
        """The instant a local wall time names.

        A wall time the clock skipped (02:30 on a spring-forward night) maps to the instant
        the clock jumped, so hours that open in the gap open when the day reaches them.
        """
        early = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if early.astimezone(self.tz).replace(tzinfo=None) == wall:
            return early
        low = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        high = early
        while high - low > timedelta(seconds=1):
            mid = low + (high - low) / 2
            if mid.astimezone(self.tz).replace(tzinfo=None) >= wall:
                high = mid
            else:
                low = mid
        return high.replace(microsecond=0)

    def _local_day(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.tz).date()

    def _from(self, instant: datetime) -> Iterator[tuple[date, datetime, datetime]]:
        """Working intervals that end after `instant`, clipped to start no earlier than it."""
        instant = _aware(instant)
        # Start a day early: a local day's intervals are computed from its own midnight.
        day = self._local_day(instant) - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            for a, b in self.intervals(day):
                if b > instant:
                    yield day, max(a, instant), b
            day += timedelta(days=1)
        raise CalendarError(f"calendar {self.name!r} has no working time in ten years")

    def next_working(self, instant: datetime) -> datetime:
        """`instant` if it is working time, else the next moment work starts."""
        for _, a, _ in self._from(instant):
            return a
        raise AssertionError("unreachable: _from either yields or raises")

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of working time have passed after `start`.

        A target that runs out exactly at closing time is due at closing, not next morning.
        """
        left = timedelta(seconds=seconds)
        for _, a, b in self._from(start):
            if left <= b - a:
                return a + left
            left -= b - a
        raise AssertionError("unreachable: _from either yields or raises")

    def add_days(self, start: datetime, days: int) -> datetime:
        """The same point of the working day, `days` working days later.

        The point is the working time already spent that day, so 12 hours into a round-the-
        clock day is noon, and noon plus one day is 13:00 when the next day is 23 hours long
        (spring DST change): a `1d` target is never shorter than the working day. Outside
        working hours `start` first moves to the next opening. When the later day is shorter,
        the due time is that day's closing.
        """
        if days <= 0:
            return _aware(start)
        begin = self.next_working(start)
        day = self._local_day(begin)
        into = sum(
            ((min(b, begin) - a).total_seconds() for a, b in self.intervals(day) if a < begin),
            0.0,
        )
        for _ in range(_HORIZON_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                days -= 1
                if days == 0:
                    spans = self.intervals(day)
                    length = sum(((b - a).total_seconds() for a, b in spans), 0.0)
                    return self.add(spans[0][0], min(into, length))
        raise CalendarError(f"calendar {self.name!r} has no working time in ten years")

    def add_duration(self, start: datetime, duration: Duration) -> datetime:
        """`start` plus a target: whole working days first, then working seconds."""
        return self.add(self.add_days(start, duration.days), duration.seconds)

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working time between two instants (0 when `end` is not after `start`)."""
        start, end = _aware(start), _aware(end)
        total = 0.0
        if end <= start:
            return total
        for _, a, b in self._from(start):
            if a >= end:
                break
            total += (min(b, end) - a).total_seconds()
        return total


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("naive datetime given to a calendar")
    return instant


ALWAYS = Calendar(
    name="24x7", tz=ZoneInfo("UTC"), hours=dict.fromkeys(range(7), ((0, DAY_SECONDS),))
)
"""Continuous time: the calendar of a target that names none."""
