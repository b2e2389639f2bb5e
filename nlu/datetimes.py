"""Dates and times of change windows, in English and Chinese, resolved against `now`.

Rule-based on purpose: the expressions people use for a window are few ("Saturday 22:00",
"tonight", "tomorrow 9am", "next Monday at 6", "周六晚上10点"), and a rule resolves them exactly
where a statistical tagger would only find them.

Resolution rules, in the timezone of `now`:
- a weekday alone or with "this" is the next such day (today if the time is still ahead);
  "next <weekday>" and "下周X" are that day in the following calendar week (weeks start Monday);
- a day without a time is 09:00 ("tomorrow"); "tonight"/"今晚" is 20:00 unless a time is given;
- a bare hour from 1 to 7 ("at 6") is read as afternoon or evening unless the words say
  morning; evening words ("tonight", "晚上", "pm") move hours 1-11 to the afternoon;
- a time alone ("at 22:00") is today, or tomorrow if it has passed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_WEEKDAYS_EN = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thur": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5,
    "sat": 5, "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS_EN = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
    "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}
_ZH_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9, "十": 10}  # fmt: skip

_WD = "|".join(sorted(_WEEKDAYS_EN, key=len, reverse=True))
_MON = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
_CLOCK = (
    r"(?:(?P<h>[01]?\d|2[0-3])(?:[:.h](?P<m>[0-5]\d))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)"
    r"|(?P<h24>[01]?\d|2[0-3])[:h](?P<m24>[0-5]\d)(?:\s*(?:hrs|hours|h))?"
    r"|(?P<named>noon|midday|midnight))"
)
_TIME_EN = rf"(?:(?:at|@|by|from|around|about)\s+)?{_CLOCK}|(?:at|@)\s+(?P<bare>[01]?\d|2[0-3])\b"
_DAY_EN = (
    rf"(?P<rel>day after tomorrow|tomorrow|tmrw|tmr|today|tonight|tonite|this evening|"
    rf"this morning|this afternoon)"
    rf"|(?:(?P<wdmod>next|this|coming|on)\s+)?(?P<wd>{_WD})\.?"
    r"(?:\s+(?P<part>morning|afternoon|evening|night))?"
    rf"|(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})"
    rf"|(?P<mon1>{_MON})\.?\s+(?P<dom1>[0-3]?\d)(?:st|nd|rd|th)?"
    rf"|(?P<dom2>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon2>{_MON})\b"
    r"|next week|in (?P<n>\d+|an?|one|two|three) (?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?)"
)


def _prefixed(pattern: str, prefix: str) -> str:
    """The pattern with every named group renamed `<prefix><name>`, to use it twice."""
    return pattern.replace("?P<", f"?P<{prefix}")


# A day, optionally followed by a time ("Saturday 22:00"), or a time optionally followed by a
# day ("22:00 on Saturday"); groups of the second form carry the prefixes t2/late.
# Word boundary, or right after a Han character ("变更窗口2026-12-01": both are word
# characters to `\b`).
_EN = re.compile(
    r"(?:\b|(?<=[\u3400-\u4dbf\u4e00-\u9fff]))"
    rf"(?:(?:{_DAY_EN})(?:\s*,?\s*(?:at\s+)?(?:{_prefixed(_TIME_EN, 't1')}))?"
    rf"|(?:{_prefixed(_TIME_EN, 't2')})"
    rf"(?:\s+(?:on\s+|this\s+)?(?:{_prefixed(_DAY_EN, 'late')}))?)",
    re.IGNORECASE,
)

_ZH_HOUR = r"(?P<zh>\d{1,2}|[零一二两三四五六七八九十]{1,3})"
_ZH = re.compile(
    r"(?P<day>今天|今日|明天|明日|后天|今晚|明晚|今早|明早|"
    r"(?:(?P<zyear>\d{4})\s*年\s*)?(?P<zmon>1[0-2]|0?[1-9])\s*月\s*(?P<zdom>[0-3]?\d)\s*[日号號]|"
    r"(?P<wmod>下个?|这个?|本)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天])|下周末|周末)?"
    r"\s*(?P<part>凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|半夜)?"
    rf"\s*(?:(?P<hh>[01]?\d|2[0-3])[:：](?P<mm>[0-5]\d)|{_ZH_HOUR}\s*[点點时]\s*"
    r"(?:(?P<half>半)|(?P<zmin>\d{1,2})\s*分?)?)?"
)

# "两小时后", "30分钟后", "3天后": an offset from now.
_ZH_AFTER = re.compile(
    r"(?P<n>\d{1,3}|[一二两三四五六七八九十半]{1,3})\s*个?\s*(?P<unit>小时|钟头|分钟|天)\s*(?:以?后|之后)"
)
_ZH_UNITS = {"小时": 3600, "钟头": 3600, "分钟": 60, "天": 86400}

_EVENING_EN = ("tonight", "tonite", "this evening", "evening", "night")
_MORNING_EN = ("morning",)
_NUM_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
# Abbreviations that are also common words ("I sat down", "the sun"): a weekday only with a
# time or a "next"/"this" in front.
_AMBIGUOUS_EN = frozenset({"sun", "sat", "wed", "mon", "thu"})


def _has_clock(m: re.Match[str]) -> bool:
    return any(_g(m, p, n) for p in ("t1", "t2") for n in ("h", "h24", "named", "bare"))


@dataclass(frozen=True, slots=True)
class TimeMatch:
    """A date/time expression: where it is and what it resolves to."""

    start: int
    end: int
    value: datetime


def _zh_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _ZH_NUM.get(text[1:], 0)
    if len(text) == 3 and text[1] == "十":
        return _ZH_NUM.get(text[0], 0) * 10 + _ZH_NUM.get(text[2], 0)
    if len(text) == 2 and text[1] == "十":
        return _ZH_NUM.get(text[0], 0) * 10
    return _ZH_NUM.get(text)


def _next_weekday(today: date, weekday: int, *, next_week: bool) -> date:
    if next_week:
        monday_next = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return monday_next + timedelta(days=weekday)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _adjust_hour(hour: int, *, evening: bool, morning: bool, explicit: bool) -> int:
    if explicit or morning:
        return hour
    if evening and 1 <= hour < 12:
        return hour + 12
    if 1 <= hour <= 7:
        return hour + 12
    return hour


def _g(m: re.Match[str], prefix: str, name: str) -> str | None:
    return m.group(prefix + name) if (prefix + name) in m.re.groupindex else None


def _resolve_en(m: re.Match[str], now: datetime) -> datetime | None:
    text = m.group(0).lower()
    today = now.date()
    day: date | None = None
    clock: time | None = None
    evening = any(w in text for w in _EVENING_EN) or " pm" in text or text.endswith("pm")
    morning = any(w in text for w in _MORNING_EN)
    for dp in ("", "late"):
        rel = _g(m, dp, "rel")
        wd = _g(m, dp, "wd")
        if rel:
            rel = rel.lower()
            if rel.startswith("day after"):
                day = today + timedelta(days=2)
            elif rel in ("tomorrow", "tmrw", "tmr"):
                day = today + timedelta(days=1)
            else:
                day = today
        elif wd:
            mod = (_g(m, dp, "wdmod") or "").lower()
            if wd.lower() in _AMBIGUOUS_EN and mod in ("", "on") and not _has_clock(m):
                return None
            day = _next_weekday(today, _WEEKDAYS_EN[wd.lower()], next_week=mod == "next")
        elif _g(m, dp, "iso"):
            try:
                day = date.fromisoformat(_g(m, dp, "iso") or "")
            except ValueError:
                return None
        elif _g(m, dp, "mon1") or _g(m, dp, "mon2"):
            month = _MONTHS_EN[(_g(m, dp, "mon1") or _g(m, dp, "mon2") or "").lower()]
            try:
                day = date(today.year, month, int(_g(m, dp, "dom1") or _g(m, dp, "dom2") or 0))
            except ValueError:
                return None
            if day < today:
                day = day.replace(year=today.year + 1)
        elif _g(m, dp, "unit"):
            raw = (_g(m, dp, "n") or "1").lower()
            amount = int(raw) if raw.isdigit() else _NUM_WORDS.get(raw, 1)
            unit = (_g(m, dp, "unit") or "").lower()
            if unit.startswith("m"):
                return now + timedelta(minutes=amount)
            if unit.startswith("h"):
                return now + timedelta(hours=amount)
            if unit.startswith("d"):
                day = today + timedelta(days=amount)
            else:
                day = today + timedelta(weeks=amount)
        elif "next week" in text:
            day = _next_weekday(today, 0, next_week=True)
    for tp in ("t1", "t2"):
        if _g(m, tp, "named"):
            named = (_g(m, tp, "named") or "").lower()
            clock = time(0, 0) if named == "midnight" else time(12, 0)
        elif _g(m, tp, "h"):
            hour = int(_g(m, tp, "h") or 0) % 12
            if (_g(m, tp, "ampm") or "").lower().startswith("p"):
                hour += 12
            clock = time(hour, int(_g(m, tp, "m") or 0))
        elif _g(m, tp, "h24"):
            hour = int(_g(m, tp, "h24") or 0)
            explicit = hour == 0 or hour >= 13 or (_g(m, tp, "h24") or "").startswith("0")
            hour = _adjust_hour(hour, evening=evening, morning=morning, explicit=explicit)
            clock = time(hour % 24, int(_g(m, tp, "m24") or 0))
        elif _g(m, tp, "bare"):
            hour = int(_g(m, tp, "bare") or 0)
            hour = _adjust_hour(hour, evening=evening, morning=morning, explicit=hour >= 13)
            clock = time(hour % 24, 0)
    if day is None and (clock is None or _g(m, "t2", "bare")):
        return None
    if clock is None:
        if evening:
            clock = time(20, 0)
        elif "afternoon" in text:
            clock = time(14, 0)
        else:
            clock = time(9, 0)
    if day is None:
        day = today
        if datetime.combine(day, clock, now.tzinfo) <= now:
            day += timedelta(days=1)
    elif _g(m, "", "wd") or _g(m, "late", "wd"):
        mod = (_g(m, "", "wdmod") or _g(m, "late", "wdmod") or "").lower()
        if mod != "next" and day == today and datetime.combine(day, clock, now.tzinfo) <= now:
            day += timedelta(days=7)
    return datetime.combine(day, clock, now.tzinfo)


def _month_day(today: date, year: str | None, month: int, dom: int) -> date | None:
    """A month and day: in the given year, else the next such date from today on."""
    try:
        if year:
            return date(int(year), month, dom)
        day = date(today.year, month, dom)
        return day if day >= today else date(today.year + 1, month, dom)
    except ValueError:
        return None


def _resolve_zh_after(m: re.Match[str], now: datetime) -> datetime | None:
    raw = m.group("n")
    amount = 0.5 if raw == "半" else _zh_number(raw)
    if amount is None:
        return None
    return now + timedelta(seconds=amount * _ZH_UNITS[m.group("unit")])


def _resolve_zh(m: re.Match[str], now: datetime) -> datetime | None:
    today = now.date()
    day_word = m.group("day")
    part = m.group("part") or ""
    day: date | None = None
    if day_word:
        if day_word in ("今天", "今日", "今晚", "今早"):
            day = today
        elif day_word in ("明天", "明日", "明晚", "明早"):
            day = today + timedelta(days=1)
        elif day_word == "后天":
            day = today + timedelta(days=2)
        elif m.group("zmon"):
            day = _month_day(today, m.group("zyear"), int(m.group("zmon")), int(m.group("zdom")))
            if day is None:
                return None
        elif day_word in ("周末", "下周末"):
            day = _next_weekday(today, 5, next_week=day_word == "下周末")
        elif m.group("wd"):
            mod = m.group("wmod") or ""
            day = _next_weekday(today, _WEEKDAYS_ZH[m.group("wd")], next_week=mod.startswith("下"))
    evening = part in ("傍晚", "晚上", "夜里", "半夜", "下午") or (day_word or "") in (
        "今晚",
        "明晚",
    )
    morning = part in ("凌晨", "早上", "早晨", "上午") or (day_word or "") in ("今早", "明早")
    clock: time | None = None
    if m.group("hh"):
        hour = int(m.group("hh"))
        hour = _adjust_hour(hour, evening=evening, morning=morning, explicit=hour >= 13)
        clock = time(hour % 24, int(m.group("mm")))
    elif m.group("zh"):
        hour_n = _zh_number(m.group("zh"))
        if hour_n is None or hour_n > 24:
            return None
        explicit = hour_n >= 13 or part == "中午"
        hour_n = _adjust_hour(hour_n, evening=evening, morning=morning, explicit=explicit)
        minute = 30 if m.group("half") else int(m.group("zmin") or 0)
        if minute > 59:
            return None
        clock = time(hour_n % 24, minute)
    if day is None and clock is None and not part:
        return None
    if clock is None:
        clock = {
            "凌晨": time(2, 0), "中午": time(12, 0), "下午": time(14, 0), "傍晚": time(18, 0),
            "晚上": time(20, 0), "夜里": time(22, 0), "半夜": time(0, 0),
        }.get(part, time(20, 0) if evening else time(9, 0))  # fmt: skip
    if day is None:
        day = today
        if datetime.combine(day, clock, now.tzinfo) <= now:
            day += timedelta(days=1)
    elif (
        m.group("wd")
        and not (m.group("wmod") or "").startswith("下")
        and day == today
        and datetime.combine(day, clock, now.tzinfo) <= now
    ):
        day += timedelta(days=7)
    return datetime.combine(day, clock, now.tzinfo)


# Most messages hold no time at all: this cheap scan spares them the large patterns above.
_TRIGGER = re.compile(
    rf"\d|\b(?:{_WD}|{_MON}|today|tonight|tonite|tomorrow|tmrw|tmr|noon|midday|midnight|"
    r"this (?:morning|afternoon|evening)|next week|in (?:an?|one|two|three) )"
    r"|[今明后周星礼晚早午点點时凌]",
    re.IGNORECASE,
)


def find_datetimes(text: str, now: datetime) -> list[TimeMatch]:
    """Every date/time expression in `text`, resolved against the aware datetime `now`."""
    found: list[TimeMatch] = []
    if not _TRIGGER.search(text):
        return found
    for m in _EN.finditer(text):
        if not m.group(0).strip():
            continue
        value = _resolve_en(m, now)
        if value is not None:
            found.append(TimeMatch(m.start(), m.end(), value))
    for m in _ZH.finditer(text):
        if not m.group(0).strip():
            continue
        if not (m.group("day") or m.group("hh") or m.group("zh")):
            continue
        value = _resolve_zh(m, now)
        if value is not None:
            found.append(TimeMatch(m.start(), m.end(), value))
    for m in _ZH_AFTER.finditer(text):
        value = _resolve_zh_after(m, now)
        if value is not None:
            found.append(TimeMatch(m.start(), m.end(), value))
    found.sort(key=lambda t: (t.start, -t.end))
    kept: list[TimeMatch] = []
    for t in found:
        if kept and t.start < kept[-1].end:
            continue
        kept.append(t)
    return kept
