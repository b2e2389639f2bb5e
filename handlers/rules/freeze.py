"""The change calendar's rules: windows, freezes, and changes that collide.

Windows are half-open, [start, end): a change ending at 22:00 and a freeze starting at 22:00
do not meet. Every instant is aware; wall-clock times from the desk file are read in the
desk's time zone, so a freeze keeps its local hours across daylight-saving changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from handlers.errors import ExplainedError, Said, Term, Terms
from handlers.rules.calendar import zone
from store.enums import ChangeType


class WindowError(ExplainedError, ValueError):
    """A window that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Window:
    """An aware, half-open span of time [start, end)."""

    start: datetime
    end: datetime

    def overlaps(self, other: Window) -> bool:
        """Whether the two spans share an instant; spans that only touch do not."""
        return self.start < other.end and other.start < self.end


def window(start: datetime, end: datetime) -> Window:
    """A window, refusing naive instants and one that ends before (or when) it starts."""
    if start.tzinfo is None or end.tzinfo is None:
        raise WindowError(Said("change.refused.no_zone"))
    if end <= start:
        raise WindowError(
            Said("change.refused.backwards", end=end.isoformat(), start=start.isoformat())
        )
    return Window(start, end)


def local(day: date, at: time, timezone: str) -> datetime:
    """A wall-clock time on a day in a time zone, as an aware instant."""
    return datetime.combine(day, at, tzinfo=zone(timezone))


def wall_clock(value: datetime, timezone: str) -> datetime:
    """A desk-file instant: naive ones are read in `timezone`, aware ones kept."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone(timezone))


@dataclass(frozen=True, slots=True)
class Freeze:
    """A freeze window on some items (their names, case-folded)."""

    name: str
    span: Window
    items: frozenset[str]


def freezes_hit(span: Window, items: Iterable[str], freezes: Iterable[Freeze]) -> list[Freeze]:
    """The freezes that overlap `span` on any of `items` (names, any case).

    A change that names no item may touch anything, so every freeze in its window applies:
    what a change touches cannot be cleared against a freeze without knowing it.
    """
    names = {i.casefold() for i in items}
    return [f for f in freezes if f.span.overlaps(span) and (not names or f.items & names)]


class FreezeVerdict(StrEnum):
    """What a freeze means for a change: go ahead, refused, or allowed with one more approver."""

    CLEAR = "clear"
    REFUSED = "refused"
    EXTRA_APPROVER = "extra_approver"


def verdict(change_type: ChangeType, hits: Sequence[Freeze]) -> FreezeVerdict:
    """Only an emergency change enters a freeze, and only with an extra approver."""
    if not hits:
        return FreezeVerdict.CLEAR
    if change_type is ChangeType.EMERGENCY:
        return FreezeVerdict.EXTRA_APPROVER
    return FreezeVerdict.REFUSED


def refusal(ref: str, hits: Sequence[Freeze], *, unscoped: bool = False) -> str:
    """The sentence that names the freeze(s) a change fell into."""
    return refusal_said(ref, hits, unscoped=unscoped).text("en")


def refusal_said(ref: str, hits: Sequence[Freeze], *, unscoped: bool = False) -> Said:
    """`refusal` as a catalog sentence, for a reader of any language."""
    named = Terms(
        tuple(
            Said(
                "change.freeze_named",
                name=f.name,
                start=f"{f.span.start:%Y-%m-%d %H:%M}",
                end=f"{f.span.end:%Y-%m-%d %H:%M}",
            )
            for f in hits
        ),
        empty=Term("change.step.nothing"),
    )
    unscoped_said = Said("change.refused.freeze_unscoped", ref=ref) if unscoped else ""
    return Said("change.refused.freeze", ref=ref, named=named, unscoped=unscoped_said)


@dataclass(frozen=True, slots=True)
class Planned:
    """A change on the calendar: its reference, window and the ids of the items it touches.

    `near` is everything that depends on those items.
    """

    ref: str
    span: Window
    items: frozenset[int]
    near: frozenset[int] = frozenset()


def collide(a: Planned, b: Planned) -> bool:
    """Two changes collide when their windows overlap and their items meet.

    Items meet when one change touches an item the other touches or that depends on what the
    other touches: a change to a database collides with one to the service running on it,
    whichever is scheduled first.
    """
    if a.ref == b.ref or not a.span.overlaps(b.span):
        return False
    return not (a.items | a.near).isdisjoint(b.items) or not (b.items | b.near).isdisjoint(a.items)


def collisions(change: Planned, others: Iterable[Planned]) -> list[Planned]:
    """The other changes `change` collides with."""
    return [o for o in others if collide(change, o)]


_CLOCK = re.compile(
    r"^\s*(?:at\s+|until\s+)?(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE
)


def clock_in(text: str) -> time | None:
    """The clock time that words name alone ("02:00", "11pm").

    None when they name a day too, or are not a time.
    """
    found = _CLOCK.match(text)
    if found is None:
        return None
    hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
    if half is None and found.group(2) is None:
        return None  # a bare number is not a time
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def until(start: datetime, end: datetime, clock: time | None = None) -> datetime:
    """The end of "Saturday 22:00 to 02:00": a bare clock time is the first one after the start.

    It is read on the start's day in the start's time zone, and on the next day when that is
    not after the start. An end that names its day is kept as written, so a window that ends
    before it starts is still refused.
    """
    if clock is None:
        return end
    found = start.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return found if found > start else found + timedelta(days=1)
