"""What the router answers: the replies, the intent served, and the dialogue state to keep.

`Routed` carries a `DialogueChange` that the worker applies once the handler's work commits;
a stored understanding comes back through `understanding_from`, and the language the person
writes in stays with the dialogue (`keep_language`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from channels.conversation import Reply
from handlers.replies import LANGUAGES
from nlu.types import Entity, IntentName, Understanding


@dataclass
class DialogueChange:
    """What to do with the conversation's dialogue state once the handler's work commits."""

    data: dict[str, Any] | None = None
    clear: bool = False


@dataclass
class Routed:
    """The router's answer: replies for this conversation, the intent served, state to keep."""

    replies: list[Reply]
    intent: str
    dialogue: DialogueChange = field(default_factory=DialogueChange)


def understanding_from(data: dict[str, Any], *, intent: IntentName | None = None) -> Understanding:
    """Rebuild a stored understanding, optionally with the intent a person chose."""
    entities = tuple(
        Entity(
            entity=str(e["entity"]),
            value=str(e["value"]),
            start=int(e.get("start", 0)),
            end=int(e.get("end", 0)),
            text=str(e.get("text", "")),
        )
        for e in data.get("entities", [])
    )
    return Understanding(
        text=str(data.get("text", "")),
        intent=intent or IntentName(data.get("intent", IntentName.OUT_OF_SCOPE)),
        confidence=1.0 if intent else float(data.get("confidence", 0.0)),
        entities=entities,
        language=str(data.get("language", "en")),
    )


def keep_language(routed: Routed, lang: str | None, state: dict[str, Any] | None) -> Routed:
    """Keep the language the person writes in with the dialogue.

    The click or bare answer that follows then replies in it. English is the default, so it
    alone needs no state.
    """
    change = routed.dialogue
    if lang is None:
        return routed
    if change.data is not None:
        change.data = {**change.data, "language": lang}
    elif lang != LANGUAGES[0] and (change.clear or (state or {}).get("language") != lang):
        if state == {"language": lang}:
            routed.dialogue = DialogueChange()
        else:
            routed.dialogue = DialogueChange(data={"language": lang})
    return routed
