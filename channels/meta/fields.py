"""Checks for the values of a Meta webhook body, shared by messaging and comment parsing.

Each returns the value in the form the conversation model wants or raises `PayloadError`
naming the part, so a signed body Meta never sends is answered 400, never 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.base import PayloadError
from channels.meta.verify import PLATFORM

MAX_TEXT = 20_000
# Page-scoped ids are decimal; anything else is refused so it never becomes an address.
_ID = re.compile(r"[0-9]{1,32}")


def page_id(value: Any, what: str) -> str:
    """A decimal id (page, PSID, IGSID, Instagram account), given as a number or a string."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise PayloadError(f"{what} is not a page-scoped id", platform=PLATFORM)
    return value


def millis(value: Any) -> datetime:
    """Meta's `timestamp`: epoch milliseconds (seconds in some test notifications)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 10**14:
        raise PayloadError("timestamp is not epoch milliseconds", platform=PLATFORM)
    seconds = value / 1000 if value >= 10**11 else float(value)
    return datetime.fromtimestamp(seconds, UTC)


def mapping(value: Any, what: str) -> Mapping[str, Any]:
    """`value` when it is a JSON object."""
    if not isinstance(value, dict):
        raise PayloadError(f"{what} must be an object", platform=PLATFORM)
    return value


def text(value: Any, what: str) -> str:
    """A string field, "" when absent, cut to `MAX_TEXT` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{what} must be a string", platform=PLATFORM)
    return value[:MAX_TEXT]
