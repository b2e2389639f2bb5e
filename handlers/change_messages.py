"""What a change command's message says, and how a moment is written back to its sender.

The times a message names and the window they make ("Saturday 22:00 to 02:00"), the outcome
a completion reports ("failed", "backed out"), and a moment as the sender's language writes it.
"""

from __future__ import annotations

from datetime import datetime

from handlers.rules import freeze
from nlu.types import EntityName, Understanding
from store.changes import ChangeOutcome

_OUTCOME_WORDS = {
    "backed out": ChangeOutcome.BACKED_OUT,
    "backed_out": ChangeOutcome.BACKED_OUT,
    "rolled back": ChangeOutcome.BACKED_OUT,
    "failed": ChangeOutcome.FAILED,
    "failure": ChangeOutcome.FAILED,
    "successful": ChangeOutcome.SUCCESSFUL,
    "success": ChangeOutcome.SUCCESSFUL,
    "succeeded": ChangeOutcome.SUCCESSFUL,
    "done": ChangeOutcome.SUCCESSFUL,
}


def instants(nlu: Understanding) -> list[datetime]:
    """The aware datetimes a message names, in the order written."""
    found = []
    for e in sorted(nlu.entities, key=lambda e: e.start):
        if e.entity != EntityName.DATETIME:
            continue
        try:
            value = datetime.fromisoformat(e.value)
        except ValueError:
            continue
        if value.tzinfo is not None:
            found.append(value)
    return found


def outcome_in(text: str) -> ChangeOutcome | None:
    """The outcome a message reports (the first outcome word it uses); None when it reports none."""
    lowered = text.lower()
    hits = [(lowered.find(w), o) for w, o in _OUTCOME_WORDS.items() if w in lowered]
    return min(hits, key=lambda h: h[0])[1] if hits else None


def window_in(
    nlu: Understanding, *, before: int | None = None
) -> tuple[datetime, datetime | None] | None:
    """The start and end a message names ("Saturday 22:00 to 02:00"), or None without a start.

    The end is None when only one time is given. Only times written before position `before`
    count.
    """
    found = []
    for e in sorted(nlu.entities, key=lambda e: e.start):
        if e.entity != EntityName.DATETIME or (before is not None and e.start >= before):
            continue
        try:
            value = datetime.fromisoformat(e.value)
        except ValueError:
            continue
        if value.tzinfo is not None:
            found.append((value, nlu.text[e.start : e.end]))
    if not found:
        return None
    start = found[0][0]
    if len(found) < 2:
        return start, None
    end, said = found[1]
    return start, freeze.until(start, end, freeze.clock_in(said))


def moment(value: datetime, lang: str, *, day: bool = False) -> str:
    """A moment as the language writes it ("Sat 06 Mar 22:00" / "2027-03-06 22:00")."""
    if lang == "en":
        return f"{value:%a %d %b}" if day else f"{value:%a %d %b %H:%M}"
    return f"{value:%Y-%m-%d}" if day else f"{value:%Y-%m-%d %H:%M}"
