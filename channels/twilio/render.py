"""A `Reply` as one plain text: Markdown dropped, cards as lines, buttons as numbered choices."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from channels.conversation import Reply
from channels.twilio.constants import WHATSAPP_MAX_CHARS
from channels.twilio.segments import GSM_LOOKALIKES, fit_segments

if TYPE_CHECKING:
    from starlette.responses import Response

_REF = re.compile(r"(INC|REQ|PRB|CHG)-\d+", re.IGNORECASE)
_MARKDOWN = re.compile(r"(\*\*|__|`)(.+?)\1", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Choice:
    """A numbered (or keyword) option of a text reply, and the click it stands for."""

    key: str
    action: str
    value: str


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply as one text, and the choices its numbers stand for."""

    body: str
    choices: tuple[Choice, ...] = ()


def strip_markdown(text: str) -> str:
    """`**bold**`, `__this__` and `` `code` `` as plain words."""
    return _MARKDOWN.sub(r"\2", text)


def _choice_line(key: str, label: str, value: str) -> str:
    what = label.lower()
    if _REF.fullmatch(value) and value.upper() not in label.upper():
        what = f"{what} {value.upper()}"
    return f"Reply {key} to {what}"


def render(reply: Reply, channel: str = "sms") -> Rendered:
    """A reply as one plain-text message: text, card lines, numbered choices."""
    parts = [strip_markdown(reply.text).strip()] if reply.text.strip() else []
    if reply.card is not None:
        parts.append("\n".join(reply.card.lines()))
    # An overview's sections read as lists; their per-ticket buttons would make a numbered
    # menu longer than the message, so the tickets are named and acted on by reference.
    parts.extend("\n".join(section.lines()) for section in reply.sections)
    choices: list[Choice] = []
    lines: list[str] = []
    for i, b in enumerate(reply.buttons, start=1):
        key = b.keyword or str(i)
        choices.append(Choice(key=key, action=b.action, value=b.value))
        lines.append(_choice_line(key, b.label, b.value))
    if lines:
        parts.append("\n".join(lines))
    body = "\n\n".join(parts)
    if channel == "sms":
        body = fit_segments(body.translate(GSM_LOOKALIKES))
    elif len(body) > WHATSAPP_MAX_CHARS:
        body = body[: WHATSAPP_MAX_CHARS - 1].rsplit(None, 1)[0] + "…"
    return Rendered(body=body, choices=tuple(choices))


def match_choice(text: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice a typed reply picks ("1", "approve chg-12" as keyword), if any."""
    said = " ".join(text.strip().split()).casefold().rstrip(".!")
    if not said:
        return None
    return next((c for c in choices if c.key.casefold() == said), None)


def twiml(text: str | None = None) -> Response:
    """The webhook's answer: empty TwiML, or one message (HELP, STOP on WhatsApp)."""
    # Only a Twilio webhook answers with it; every other process leaves the SDK and its XML
    # builder unloaded (`bot.delivery` reads this package's rules), and Starlette with them.
    from starlette.responses import Response
    from twilio.twiml.messaging_response import MessagingResponse

    resp = MessagingResponse()
    if text:
        resp.message(text)
    return Response(str(resp), media_type="application/xml")
