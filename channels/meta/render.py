"""Replies as a Send API `message`: text, and buttons as quick replies; public acknowledgements."""

from __future__ import annotations

import re
from typing import Any

from channels.conversation import Button, Reply
from channels.meta.parse import encode_payload

TEXT_LIMIT = 2_000
MAX_QUICK_REPLIES = 13
TITLE_LIMIT = 20
PAYLOAD_LIMIT = 1_000
PUBLIC_TEXT = (
    "Thanks for telling us. We're tracking this as {ref} and have sent you the details in a "
    "private message."
)

_REF = re.compile(r"(?:INC|REQ|PRB|CHG)-[0-9]{1,9}")


def _offered(reply: Reply) -> list[tuple[Button, int | None]]:
    """Every button with the version of the card it is about, the reply's then its sections'."""
    versions = {reply.card.ref: reply.card.version} if reply.card is not None else {}
    out = [(b, versions.get(b.value)) for b in reply.buttons]
    for section in reply.sections:
        shown = {c.ref: c.version for c in section.cards}
        out.extend((b, shown.get(b.value)) for b in section.buttons)
    return out


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render(reply: Reply) -> dict[str, Any]:
    """The `message` object of a Send API request.

    Buttons become quick replies (at most 13, titles of 20 characters) carrying the action
    in their payload; when there are more, or a payload would not fit, the text lists the
    choices as numbered lines instead, which a person answers by typing.
    """
    offered = _offered(reply)
    quick = [
        {
            "content_type": "text",
            "title": _clip(b.label, TITLE_LIMIT),
            "payload": encode_payload(b.action, b.value, version),
        }
        for b, version in offered
    ]
    fits = 0 < len(quick) <= MAX_QUICK_REPLIES and all(
        len(q["payload"]) <= PAYLOAD_LIMIT for q in quick
    )
    if fits:
        plain = Reply(
            text=reply.text, card=reply.card, sections=reply.sections, ticket_ref=reply.ticket_ref
        )
        message: dict[str, Any] = {"text": _clip(plain.fallback_text(), TEXT_LIMIT)}
        message["quick_replies"] = quick
        return message
    return {"text": _clip(reply.fallback_text(), TEXT_LIMIT)}


def public_text(ticket_ref: str | None) -> str | None:
    """The public answer under a comment: the ticket's reference and nothing else about it."""
    ref = (ticket_ref or "").strip().upper()
    return PUBLIC_TEXT.format(ref=ref) if _REF.fullmatch(ref) else None
