"""Whether a message answers the question the bot is waiting on, or is something else.

"INC-5: it only happens on Wi-Fi" is not an answer to "which system is affected?", nor is
"I need a new laptop"; "hmm let me think" is a pause; "laptop" or "the thing in room 4" is.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from handlers.rules import confirm
from nlu.types import EntityName, IntentName, Understanding


class Verdict(StrEnum):
    """What a message is, given a question the bot is waiting on."""

    ANSWER = "answer"
    HESITATION = "hesitation"
    NEW_REQUEST = "new_request"


_HESITATIONS = re.compile(
    r"^\W*(hmm+|umm*|uh+|erm*|well|wait|hold on|one moment|one sec|just a sec|let me (think|check|"
    r"see|look)|i'?ll (check|find out)|not sure yet|让我想想|等一下|我想想|稍等)\b",
    re.IGNORECASE,
)
_SHORT_WORDS = 5
_SHORT_CJK = 8


def answer_verdict(expect: dict[str, Any], nlu: Understanding) -> Verdict:
    """Whether a message answers the pending question, or is something else.

    A ticket reference, or a clear intent of its own, is a new request; "hmm let me think"
    is a pause; a known service or a short noun-like phrase answers "which system?". A
    question for free text (a note) takes any text that is not a new request.
    """
    # A pause first: "hmm let me think" may read as a weak "no", which would drop the question.
    if _HESITATIONS.search(nlu.text) and len(nlu.text.split()) <= _SHORT_WORDS:
        return Verdict.HESITATION
    if nlu.intent in (IntentName.CANCEL, IntentName.DENY):
        return Verdict.ANSWER
    if nlu.first(EntityName.TICKET_REF) is not None:
        return Verdict.NEW_REQUEST
    entity = expect.get("entity")
    if entity and nlu.first(str(entity)) is not None:
        return Verdict.ANSWER
    asked = str(expect.get("intent", ""))
    if (
        nlu.intent.value != asked
        and nlu.intent not in (IntentName.OUT_OF_SCOPE, IntentName.AFFIRM)
        and nlu.confidence >= confirm.NEW_REQUEST
    ):
        return Verdict.NEW_REQUEST
    if entity == EntityName.SERVICE.value and not _noun_like(nlu.text):
        return Verdict.NEW_REQUEST
    return Verdict.ANSWER


def _noun_like(text: str) -> bool:
    """Short, and not a question or a sentence: "the thing in room 4", "payroll", "无线网"."""
    clean = text.strip()
    if not clean or clean.endswith(("?", "？")):
        return False
    words = clean.split()
    if not clean.isascii() and len(clean.replace(" ", "")) > _SHORT_CJK:
        return False
    return len(words) <= _SHORT_WORDS
