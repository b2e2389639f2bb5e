"""Phone numbers as people type them, for code that may import only the conversation model."""

from __future__ import annotations

import re

_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")


def phone_candidate(value: str) -> str | None:
    """Text written like an international phone number, as `+` and digits, or None.

    Separators go and a `00` prefix becomes `+`; nothing more. This does NOT validate the
    number against any numbering plan: that takes `channels.phones` (libphonenumber), which
    the channels and the application use. It is for code that may import only this model
    and must hand on a number somebody typed; the channel that delivers to it validates.
    """
    cleaned = _PHONE_SEPARATORS.sub("", value.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned if _PHONE_SHAPE.match(cleaned) else None


def mask_phone(value: str, *, keep_leading: int = 0) -> str:
    """A phone number with all but its last four digits starred (`+*******0123`).

    `keep_leading` digits stay at the front (a country code, when the caller knows its
    length). Text with fewer than seven digits (a date, a short code) is returned as is.
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return value
    head = digits[: min(keep_leading, len(digits) - 4)]
    starred = "*" * (len(digits) - 4 - len(head))
    return ("+" if value.strip().startswith("+") else "") + head + starred + digits[-4:]
