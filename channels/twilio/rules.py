"""Messaging rules Twilio's channels impose, and the little state they need.

SMS: the carrier opt-out keywords (STOP, START, HELP and their synonyms), honoured before
anything reaches the bot. WhatsApp: free text only within 24 hours of the customer's last
message. Both: the numbered choices of the last text sent, so a typed "1" means the click it
stands for. The state lives in a `PlatformStateStore`, which the application keeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from channels.base import Cursors, PlatformStateStore, RuleState
from channels.twilio.render import Choice

WINDOW = timedelta(hours=24)
# Leave room for the queue: a reply sent just inside the window may land just outside it.
WINDOW_MARGIN = timedelta(minutes=5)
CHOICES_TTL = timedelta(hours=24)

# Kinds of `PlatformStateStore` values, named as the keys older releases used.
OPTOUT = "optout"
WINDOW_KIND = "window"
CHOICES = "choices"

HELP_TEXT = (
    "Switchboard IT service desk: text us what's wrong or a ticket number like INC-42. "
    "Reply STOP to stop messages, START to resume. Msg&data rates may apply."
)
STOPPED_TEXT = "You won't get messages from the IT service desk any more. Reply START to resume."
STARTED_TEXT = "Welcome back: you'll get messages from the IT service desk again."

# Twilio's default opt-out handling on SMS reacts to these words; we follow it so our state
# matches what Twilio will let through. WhatsApp has no carrier keywords: only the plain ones.
_STOP = {
    "sms": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    ),
    "whatsapp": frozenset({"STOP", "UNSUBSCRIBE"}),
}
_START = {"sms": frozenset({"START", "UNSTOP"}), "whatsapp": frozenset({"START"})}
_START_WHEN_STOPPED = {"sms": frozenset({"YES"}), "whatsapp": frozenset()}
_HELP = frozenset({"HELP", "INFO"})


def keyword(text: str, channel: str, *, opted_out: bool = False) -> str | None:
    """`stop`, `start` or `help` when the whole message is one of those words."""
    word = text.strip().strip(".!").upper()
    if word in _STOP.get(channel, frozenset()):
        return "stop"
    if word in _START.get(channel, frozenset()):
        return "start"
    if opted_out and word in _START_WHEN_STOPPED.get(channel, frozenset()):
        return "start"
    if word in _HELP:
        return "help"
    return None


def now() -> datetime:
    """The current time (UTC), which the window and the choices are measured against."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Remembered:
    """Choices replaced by a text about to go: what to put back if it never goes."""

    previous: str
    version: int


class PlatformState:
    """Opt-outs, the WhatsApp window and the choices offered, per channel and number.

    Kept in a `PlatformStateStore`: STOP, START and the window are single upserts, and
    choices change by compare-and-set, so two workers sending to one number at once cannot
    lose each other's write. `cursors` is where older releases kept these values; a number
    not yet in the store is looked up there once.
    """

    def __init__(self, store: PlatformStateStore, cursors: Cursors | None = None) -> None:
        self._state = RuleState(store, legacy=cursors, legacy_key=legacy_key)

    async def opted_out(self, channel: str, number: str) -> bool:
        """Whether the number texted STOP (and not START since)."""
        return bool(await self._state.value(OPTOUT, channel, number))

    async def set_opted_out(self, channel: str, number: str, stopped: bool) -> None:
        """Record STOP (True) or START (False)."""
        await self._state.put(OPTOUT, channel, number, "1" if stopped else "")

    async def customer_wrote(self, number: str) -> None:
        """Open (or renew) the WhatsApp window for the number."""
        await self._state.put(WINDOW_KIND, "whatsapp", number, now().isoformat())

    async def in_window(self, number: str) -> bool:
        """Whether free text may still go to the number on WhatsApp."""
        value = await self._state.value(WINDOW_KIND, "whatsapp", number)
        if not value:
            return False
        try:
            last = datetime.fromisoformat(value)
        except ValueError:
            return False
        return now() - last < WINDOW - WINDOW_MARGIN

    async def choices(self, channel: str, number: str) -> list[Choice]:
        """The choices of the last text sent, if it is recent enough to be answered."""
        return _load_choices(await self._state.value(CHOICES, channel, number))

    async def remember_choices(
        self, channel: str, number: str, choices: Sequence[Choice]
    ) -> Remembered | None:
        """Keep what the numbers of this message mean; returns what to put back on failure.

        None when nothing changed (no choices now, none before).
        """
        stored = ""
        if choices:
            data = {
                "at": now().isoformat(),
                "choices": [[c.key, c.action, c.value] for c in choices],
            }
            stored = json.dumps(data)

        def replace(current: str) -> str | None:
            # Numbers refer to the latest message only: a later one without choices ends them.
            return stored if stored or current else None

        done = await self._state.update(CHOICES, channel, number, replace)
        if done is None:
            return None
        previous, written = done
        return Remembered(previous=previous, version=written.version)

    async def restore_choices(self, channel: str, number: str, remembered: Remembered) -> None:
        """Put back the choices `remember_choices` replaced (the new message never went).

        Only while they are still the ones it wrote: a later text's choices stand.
        """
        await self._state.compare_and_set(
            CHOICES, channel, number, remembered.version, remembered.previous
        )


def legacy_key(kind: str, channel: str, number: str) -> str:
    """The `Cursors` key older releases kept a value under."""
    return f"twilio.{kind}:{channel}:{number}"


def _load_choices(stored: str | None) -> list[Choice]:
    if not stored:
        return []
    try:
        data = json.loads(stored)
        at = datetime.fromisoformat(data["at"])
        if now() - at > CHOICES_TTL:
            return []
        return [Choice(key=str(k), action=str(a), value=str(v)) for k, a, v in data["choices"]]
    except (ValueError, KeyError, TypeError):
        return []
