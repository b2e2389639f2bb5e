"""How many SMS segments a text costs, and where a concatenated SMS is cut.

GSM-7 text takes 160 characters in one segment and 153 per part of a longer message;
anything outside GSM 03.38 switches the whole message to UCS-2 (70 and 67 UTF-16 units).
"""

from __future__ import annotations

import math

from channels.twilio.constants import MAX_SEGMENTS

# GSM 03.38: the basic set (one septet each) and the extension (escape + septet).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
# Characters our replies use that have a plain GSM look-alike: one bullet would otherwise
# switch the whole message to UCS-2 and shrink every segment from 153 to 67 characters.
GSM_LOOKALIKES = str.maketrans(
    {
        "·": "-",
        "•": "-",
        "…": "...",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "\u00a0": " ",
    }
)


def is_gsm(text: str) -> bool:
    """Whether the whole text fits the GSM-7 alphabet (basic set and extension)."""
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def _units(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in GSM_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # UTF-16 code units


def segment_count(text: str) -> int:
    """SMS segments the text takes: 160/153 GSM-7 or 70/67 UCS-2 characters each."""
    gsm = is_gsm(text)
    units = sum(_units(c, gsm) for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if units <= single else math.ceil(units / multi)


def split_segments(text: str) -> list[str]:
    """The text cut where a concatenated SMS cuts it (153 GSM-7 / 67 UCS-2 units a part).

    Never splits an extension character or a surrogate pair across two parts.
    """
    gsm = is_gsm(text)
    if segment_count(text) == 1:
        return [text] if text else []
    size = 153 if gsm else 67
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        n = _units(ch, gsm)
        if used + n > size:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    if current:
        parts.append("".join(current))
    return parts


def fit_segments(text: str, max_segments: int = MAX_SEGMENTS) -> str:
    """The text, or its first `max_segments` segments ending at a word with "...".

    The cut lands on a segment boundary, so nothing is paid for a part-filled last segment.
    """
    parts = split_segments(text)
    if len(parts) <= max_segments:
        return text
    marker = "..." if is_gsm(text) else "…"
    kept = "".join(parts[:max_segments])
    room = kept[: len(kept) - len(marker) - 1]
    cut = room.rsplit(None, 1)[0] if " " in room or "\n" in room else room
    return cut.rstrip(" ,;:-\n") + marker
