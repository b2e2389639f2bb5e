"""Script-based language detection: Simplified Chinese or English."""

from __future__ import annotations

import re

LANGUAGES = ("en", "zh")

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def detect_language(text: str) -> str:
    """Return "zh" when Han characters carry the message, else "en".

    One Han character carries about as much as one English word, so a message is Chinese when
    it has at least as many Han characters as Latin words ("批准 CHG-2031" is Chinese,
    "thanks, 谢谢 for the fix on the VPN" is English).
    """
    han = len(_HAN.findall(text))
    if not han:
        return "en"
    return "zh" if han >= len(_LATIN_WORD.findall(text)) else "en"
