"""Cleaning of untrusted text before it reaches spaCy."""

from __future__ import annotations

import re

MAX_CHARS = 4000
"""Longer texts are cut: chat intents live in the first lines, and spaCy cost grows with length."""

# Control characters (except tab and newlines) and lone surrogates are replaced one for one by a
# space, so that every offset into the cleaned text is also an offset into the original text.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff]")


def sanitize(text: object) -> str:
    """Return text safe to tokenise: cut to `MAX_CHARS`, unsafe characters blanked.

    The result is a prefix of the input with some characters replaced by spaces, never
    shifted, so entity offsets computed on it are valid in the original text.
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _UNSAFE.sub(" ", text[:MAX_CHARS])
