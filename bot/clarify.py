"""When the router is unsure: the clarifying question, the guesses kept, the hand-over.

Below the acting threshold the router offers the two likeliest intents as buttons (with
"something else"); what the model guessed is kept for the desk to see, and after two
clarifications that did not help the conversation goes to the desk (`hand_over`).
"""

from __future__ import annotations

from typing import Any

from bot.routed import DialogueChange, Routed
from channels.conversation import Button, Reply
from handlers.context import HandlerContext
from handlers.handover import hand_over
from handlers.registry import Registry
from handlers.replies import language, say
from nlu.types import IntentName, Understanding
from store.nlu_misses import record_miss

OFFERED = frozenset(
    {
        IntentName.REPORT_INCIDENT,
        IntentName.REQUEST_SERVICE,
        IntentName.CHECK_STATUS,
        IntentName.ADD_INFO,
        IntentName.ESCALATE,
        IntentName.RESOLVE_TICKET,
        IntentName.REOPEN_TICKET,
        IntentName.REQUEST_CHANGE,
        IntentName.APPROVE,
        IntentName.REJECT,
        IntentName.SEARCH_KNOWLEDGE,
        IntentName.HELP,
        IntentName.GREET,
        IntentName.THANKS,
        IntentName.ASSIGN,
        IntentName.MY_QUEUE,
        IntentName.PENDING_APPROVALS,
        IntentName.PUT_ON_HOLD,
        IntentName.OPEN_PROBLEM,
        IntentName.QUERY_IMPACT,
        IntentName.REQUEST_CATALOG,
        IntentName.DECLARE_MAJOR,
        IntentName.STATUS_UPDATE,
        IntentName.SUBMIT_IDEA,
        IntentName.SIGNIN,
    }
)
"""Intents a clarifying question may offer; their labels are `label.<intent>` replies."""
UNCLEAR = {"clarify", IntentName.OUT_OF_SCOPE.value}
"""Outcomes that mean the bot did not act on what the person said."""
MAX_CLARIFICATIONS = 2
_NOT_OFFERED = {IntentName.OUT_OF_SCOPE, IntentName.AFFIRM, IntentName.DENY, IntentName.CANCEL}


def record_guess(outcome: str, nlu: Understanding, ctx: HandlerContext) -> None:
    """Keep what the model guessed, so the desk sees which intents the bot fails to act on.

    A confident "that's not IT" is an answer, not a miss: no guess is kept for it.
    """
    ranked = nlu.ranked() if outcome == "clarify" else nlu.ranked()[:1]
    guess = next(((i, c) for i, c in ranked if i is not IntentName.OUT_OF_SCOPE and c > 0), None)
    if guess is None:
        return
    intent, confidence = guess
    record_miss(
        ctx.uow.session,
        at=ctx.now,
        channel=ctx.channel,
        outcome=outcome,
        guessed=intent.value,
        confidence=confidence,
    )


async def count_miss(
    routed: Routed, ctx: HandlerContext, nlu: Understanding, state: dict[str, Any]
) -> Routed:
    """Two clarifications that did not help are enough: the desk takes it from there."""
    misses = int(state.get("misses", 0)) + 1
    transcript = [str(t) for t in state.get("transcript", [])]
    if nlu.text.strip():
        transcript.append(nlu.text.strip()[:1000])
    if misses > MAX_CLARIFICATIONS:
        replies = await hand_over(ctx, transcript)
        return Routed(replies=replies, intent="handover", dialogue=DialogueChange(clear=True))
    data = dict(routed.dialogue.data or {})
    data.update(misses=misses, transcript=transcript[-10:])
    routed.dialogue = DialogueChange(data=data)
    return routed


def options(registry: Registry, nlu: Understanding) -> list[IntentName]:
    """The two likeliest intents a clarifying question may offer, that have a handler."""
    ranked = [i for i, _ in nlu.ranked() if i not in _NOT_OFFERED and i in OFFERED]
    return [i for i in ranked if registry.for_intent(i) is not None][:2]


def clarify(registry: Registry, nlu: Understanding, ctx: HandlerContext) -> Routed:
    """Ask which of the likeliest intents the person meant, or something else."""
    lang = language(ctx, nlu)
    buttons = [
        Button(label=say(lang, f"label.{i.value}"), action="choose_intent", value=i.value)
        for i in options(registry, nlu)
    ]
    other = say(lang, "router.something_else")
    buttons.append(Button(label=other, action="choose_intent", value="other"))
    reply = Reply(text=say(lang, "router.unsure"), buttons=tuple(buttons))
    data = {"clarify": nlu.to_dict(), "choices": [b.to_dict() for b in buttons]}
    return Routed(replies=[reply], intent="clarify", dialogue=DialogueChange(data=data))
