"""Twilio's webhook forms as events: an incoming text or WhatsApp button, a delivery report.

Whatever a (signed) form holds, the result is a model object or `PayloadError` (400). NUL
characters are dropped from every text taken into the model: PostgreSQL's JSON refuses
them, and the event is stored as JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from channels.base import PayloadError
from channels.conversation import Action, Address, Identity, Message
from channels.phones import to_e164
from channels.twilio.constants import MAX_BODY_CHARS
from channels.twilio.verify import Form

SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
_ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_MAX_MEDIA = 10


def clean(text: str) -> str:
    """The text without NUL characters, which PostgreSQL's JSON cannot hold."""
    return text.replace("\x00", "")


def split_address(value: str) -> tuple[str, str]:
    """(`sms` | `whatsapp`, E.164 number) from a Twilio `From`/`To`.

    Twilio vouches for the number, so only its length is checked against its country's plan
    (a snapshot of the allocations must not turn a real sender away).

    Raises:
        PayloadError: not a phone number we can answer.
    """
    channel = "sms"
    if value.startswith("whatsapp:"):
        channel, value = "whatsapp", value[len("whatsapp:") :]
    number = to_e164(value, strict=False)
    if number is None:
        raise PayloadError("sender is not an E.164 phone number", platform=channel)
    return channel, number


def parse(form: Form, *, received_at: datetime | None = None) -> Message | Action:
    """A text (or a WhatsApp quick-reply button) as an event.

    Raises:
        PayloadError: no `MessageSid`, or a sender that is not a phone number.
    """
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    channel, number = split_address(form.get("From"))
    if not SID.fullmatch(sid):
        raise PayloadError("MessageSid missing or malformed", platform=channel)
    address = Address(channel=channel, conversation=number, user=number)
    profile = clean(form.get("ProfileName")).strip()[:200]
    sender = Identity(
        platform="phone", external_id=number, display_name=profile or None, phone=number
    )
    when = received_at or datetime.now(UTC)
    payload = clean(form.get("ButtonPayload")).strip()
    if payload:
        action, _, value = payload.partition(":")
        if _ACTION_NAME.fullmatch(action):
            return Action(
                event_id=sid,
                address=address,
                sender=sender,
                name=action,
                value=value[:200],
                received_at=when,
            )
    return Message(
        event_id=sid,
        address=address,
        sender=sender,
        text=clean(form.get("Body")[: MAX_BODY_CHARS * 2])[:MAX_BODY_CHARS],
        received_at=when,
        direct=True,
        attachments=_media(form),
    )


def _media(form: Form) -> tuple[str, ...]:
    raw = form.get("NumMedia").strip()
    count = min(int(raw), _MAX_MEDIA) if raw.isascii() and raw.isdigit() and len(raw) < 4 else 0
    found = (clean(form.get(f"MediaUrl{i}")).strip() for i in range(count))
    return tuple(url for url in found if url)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A delivery report: which message, what became of it, and whether the person opted out."""

    platform: str
    sid: str
    status: str
    unsubscribed: str | None = None


def parse_status(form: Form) -> StatusReport:
    """A `POST /twilio/status` form as a report.

    Raises:
        PayloadError: no well-formed `MessageSid`, or no status.
    """
    sid = form.get("MessageSid") or form.get("SmsSid")
    state = clean(form.get("MessageStatus") or form.get("SmsStatus")).strip()
    to = form.get("To")
    channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
    if not SID.fullmatch(sid) or not state:
        raise PayloadError("status callback without MessageSid/MessageStatus", platform=channel)
    unsubscribed = None
    if form.get("ErrorCode") == "21610":  # the recipient texted STOP
        unsubscribed = to_e164(to.removeprefix("whatsapp:"), strict=False)
    return StatusReport(platform=channel, sid=sid, status=state[:32], unsubscribed=unsubscribed)
