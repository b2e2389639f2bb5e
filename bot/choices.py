"""Picking one of the choices the last reply offered, on channels without buttons.

The person types the choice's number, keyword, label or ticket reference, or a clear yes or
no to a Yes / No question; the router then serves the choice as if its button was clicked.
"""

from __future__ import annotations

from typing import Any

from channels.conversation import Action
from handlers.replies import LANGUAGES, say
from handlers.rules import confirm
from nlu.types import IntentName, Understanding

REF_PREFIXES = ("INC-", "REQ-", "PRB-", "CHG-")
"""How ticket references begin; a value starting so names a ticket."""


def match_choice(choices: Any, text: str) -> dict[str, Any] | None:
    """The offered choice the text names by number, keyword, label or ticket reference."""
    if not choices:
        return None
    said = " ".join(text.strip().split()).casefold().rstrip(".!")
    if not said:
        return None
    for i, choice in enumerate(choices, start=1):
        keyword = str(choice.get("keyword") or "").casefold()
        label = str(choice.get("label") or "").casefold()
        value = str(choice.get("value") or "")
        # A ticket offered in a list can be picked by typing its reference.
        ref = value.casefold() if value.upper().startswith(REF_PREFIXES) else ""
        if said in {str(i), keyword, label, ref} - {""}:
            return dict(choice)
    return None


def yes_or_no(choices: Any, nlu: Understanding) -> dict[str, Any] | None:
    """A clear, short yes or no answers a Yes / No question; "laptop" is neither."""
    if not choices or nlu.intent not in (IntentName.AFFIRM, IntentName.DENY):
        return None
    if not confirm.is_certain(nlu.intent, nlu.confidence) or len(nlu.text.split()) > 4:
        return None
    # The Yes / No buttons are labelled in the person's language ("Yes", "是").
    key = "confirm.yes" if nlu.intent is IntentName.AFFIRM else "confirm.no"
    wanted = {say(lang, key).casefold() for lang in LANGUAGES}
    return next((dict(c) for c in choices if str(c.get("label") or "").casefold() in wanted), None)


def offered(choices: Any, action: Action) -> bool:
    """True when the action is one of the choices the last reply offered."""
    return any(
        c.get("action") == action.name and str(c.get("value") or "") == action.value
        for c in choices or ()
    )
