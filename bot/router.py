"""The intent router: picks the handler for an event, asks when unsure, keeps dialogue state.

A message goes to the handler of its intent when the NLU is confident; below the threshold
(never below `rules/confirm.py`'s floor) the router asks a clarifying question with the two
likeliest intents as choices, and after two clarifications that did not help it hands the
conversation to the desk. A question a handler asked (`ctx.expect`) makes the next message
its answer, if it looks like one (`bot/answers.py`); a new request is served as itself.
Buttons come back as actions; on text-only channels the person types the choice's number,
keyword or ticket reference, or a clear yes or no to a Yes / No question. A message that
starts with a command word goes to the command, which may decline (`Declined`) when the rest
names nothing it works on; it is then routed like any other message. The router's own words
come from `handlers/replies` in the person's language.

The parts live beside it: what it answers in `bot.routed`, the clarifying question and the
hand-over in `bot.clarify`, typed picks among offered choices in `bot.choices`.
"""

from __future__ import annotations

import time
from typing import Any

import structlog

from bot import metrics
from bot.answers import Verdict, answer_verdict
from bot.choices import REF_PREFIXES, match_choice, offered, yes_or_no
from bot.clarify import MAX_CLARIFICATIONS, UNCLEAR, clarify, count_miss, options, record_guess
from bot.routed import DialogueChange, Routed, keep_language, understanding_from
from channels.conversation import Action, Alert, Event, Message, Reply
from handlers.context import ANSWER_ACTION, HandlerContext
from handlers.events import handle_alert
from handlers.registry import Declined, HandlerSpec, Registry
from handlers.replies import language, normalise, say, written_language
from handlers.rules import confirm
from nlu.types import Entity, EntityName, IntentName, Understanding

# What the router answers lives in `bot.routed`; callers read these names from here.
__all__ = [
    "MAX_CLARIFICATIONS",
    "DialogueChange",
    "IntentRouter",
    "Routed",
    "understanding_from",
]

log = structlog.get_logger(__name__)


class IntentRouter:
    """Routes events to the handlers of a `Registry`."""

    def __init__(self, registry: Registry, *, whatsapp_template: bool = False) -> None:
        self.registry = registry
        self.whatsapp_template = whatsapp_template
        self._fallback = registry.for_intent(IntentName.OUT_OF_SCOPE)

    def help_entries(self) -> list[tuple[str, str]]:
        """Command and description pairs that `help` lists."""
        return self.registry.help_entries()

    async def dispatch(
        self,
        event: Event,
        nlu: Understanding,
        ctx: HandlerContext,
        state: dict[str, Any] | None,
    ) -> Routed:
        """Handle one event given the conversation's dialogue state (None when there is none)."""
        ctx.help_entries = self.help_entries()
        ctx.whatsapp_template = ctx.whatsapp_template or self.whatsapp_template
        change = DialogueChange(clear=state is not None)
        remembered = normalise(str((state or {}).get("language") or ""))
        said = written_language(event.text) if isinstance(event, Message) else None
        ctx.written_in = said or remembered
        if isinstance(event, Alert):
            return Routed(replies=await handle_alert(event, ctx), intent="alert")
        if isinstance(event, Action):
            routed = await self._action(event, nlu, ctx, state or {})
        else:
            routed = await self._message(event, nlu, ctx, state or {})
        if routed.dialogue.data is None and not routed.dialogue.clear:
            routed.dialogue = change
        if routed.intent in UNCLEAR and isinstance(event, Message):
            record_guess(routed.intent, nlu, ctx)
        # A clear "that's not IT" is an answer, not a miss, unless a clarification came first.
        if routed.intent == "clarify" or (
            routed.intent in UNCLEAR and int((state or {}).get("misses", 0)) > 0
        ):
            routed = await count_miss(routed, ctx, nlu, state or {})
        return keep_language(self._remember(routed, ctx), ctx.written_in, state)

    async def _message(
        self, msg: Message, nlu: Understanding, ctx: HandlerContext, state: dict[str, Any]
    ) -> Routed:
        choice = match_choice(state.get("choices"), msg.text) or yes_or_no(
            state.get("choices"), nlu
        )
        if choice is not None:
            action = Action(
                event_id=msg.event_id,
                address=msg.address,
                sender=msg.sender,
                name=choice["action"],
                value=choice.get("value", ""),
                received_at=msg.received_at,
            )
            return await self._action(action, nlu, ctx, state)
        command = self.registry.for_command(msg.text)
        if command is not None:
            try:
                return await self._run(command, nlu, ctx)
            except Declined:
                # Not a command after all: what the message means decides, as for any other.
                log.debug("router.command_declined", command=command.commands[0])
        expect = state.get("expect")
        if expect:
            verdict = answer_verdict(expect, nlu)
            if verdict is Verdict.ANSWER:
                return await self._answer(expect, state.get("nlu") or {}, nlu, ctx)
            if verdict is Verdict.HESITATION:
                return Routed(
                    replies=[Reply(text=say(language(ctx, nlu), "router.no_rush"))],
                    intent="hesitation",
                    dialogue=DialogueChange(data=dict(state)),
                )
            # A new request: serve it, and say the earlier question is set aside.
            routed = await self.route(nlu, ctx)
            aside = Reply(text=say(language(ctx, nlu), "router.set_aside"))
            routed.replies.insert(0, aside)
            return routed
        shaped = self.registry.for_shape(msg.text)
        if shaped is not None:
            routed = await self._run(shaped, nlu, ctx)
            if routed.replies:
                return routed
        return await self.route(nlu, ctx)

    async def route(self, nlu: Understanding, ctx: HandlerContext) -> Routed:
        """Serve a fresh message: the intent's handler if confident, else a clarifying question."""
        spec = self.registry.for_intent(nlu.intent)
        # The model's own out-of-scope threshold is low; below the floor every reading is a
        # guess. State changes above it are confirmed by their handlers (rules/confirm.py).
        threshold = max(nlu.threshold, confirm.ACTING_FLOOR)
        if spec is not None and spec.min_confidence is not None:
            threshold = spec.min_confidence
        if nlu.intent is IntentName.OUT_OF_SCOPE or spec is None:
            if nlu.confidence >= threshold or not options(self.registry, nlu):
                return await self._run(self._fallback, nlu, ctx)
            return clarify(self.registry, nlu, ctx)
        if nlu.confidence < threshold:
            return clarify(self.registry, nlu, ctx)
        return await self._run(spec, nlu, ctx)

    async def _answer(
        self,
        expect: dict[str, Any],
        original: dict[str, Any],
        nlu: Understanding,
        ctx: HandlerContext,
    ) -> Routed:
        if nlu.intent is IntentName.CANCEL or (
            nlu.intent is IntentName.DENY
            and nlu.confidence >= max(nlu.threshold, confirm.ACTING_FLOOR)
            and len(nlu.text.split()) <= 3
        ):
            lang = language(ctx, nlu)
            reported = str((expect.get("params") or {}).get("reported", ""))
            kept = say(lang, "router.kept", ref=reported) if reported else ""
            return Routed(
                replies=[Reply(text=say(lang, "router.dropped", kept=kept))],
                intent=IntentName.CANCEL.value,
                dialogue=DialogueChange(clear=True),
            )
        try:
            intent = IntentName(expect["intent"])
        except (KeyError, ValueError):
            return await self.route(nlu, ctx)
        spec = self.registry.for_intent(intent)
        if spec is None:
            return await self.route(nlu, ctx)
        slot, entity = str(expect.get("slot", "")), expect.get("entity")
        found = nlu.first(entity) if entity else None
        params = {str(k): str(v) for k, v in (expect.get("params") or {}).items()}
        params[slot] = found.value if found else nlu.text
        merged = understanding_from(original, intent=intent) if original else nlu
        extra = tuple(
            e
            for e in nlu.entities
            if e.entity != EntityName.TICKET_REF
            or not any(m.entity == EntityName.TICKET_REF for m in merged.entities)
        )
        merged = Understanding(
            text=merged.text,
            intent=intent,
            confidence=1.0,
            entities=merged.entities + extra,
            language=merged.language,
        )
        ctx.params = {**ctx.params, **params}
        return await self._run(spec, merged, ctx)

    async def _action(
        self, action: Action, nlu: Understanding, ctx: HandlerContext, state: dict[str, Any]
    ) -> Routed:
        if action.name == "choose_intent":
            stored = state.get("clarify")
            if not stored:
                return Routed(
                    replies=[Reply(text=say(language(ctx, nlu), "router.expired"))],
                    intent="expired",
                )
            try:
                chosen = IntentName(action.value)
            except ValueError:
                chosen = IntentName.OUT_OF_SCOPE
            forced = understanding_from(stored, intent=chosen)
            ctx.text = forced.text
            spec = self.registry.for_intent(chosen) or self._fallback
            return await self._run(spec, forced, ctx)
        if action.name == "command":
            return await self.route(nlu, ctx)
        if action.name == ANSWER_ACTION:
            return await self._answer_button(action, nlu, ctx, state)
        spec = self.registry.for_action(action.name)
        if spec is None:
            log.info("router.unknown_action", action=action.name)
            return Routed(
                replies=[Reply(text=say(language(ctx, nlu), "router.button_gone"))],
                intent="unknown_action",
            )
        entities: tuple[Entity, ...] = ()
        value = action.value.strip()
        if value.upper().startswith(REF_PREFIXES):
            entities = (
                Entity(entity=EntityName.TICKET_REF.value, value=value.upper(), start=0, end=0),
            )
        forced = Understanding(
            text=action.text,
            intent=spec.intent or IntentName.OUT_OF_SCOPE,
            confidence=1.0,
            entities=entities + (nlu.entities if action.text else ()),
            language=nlu.language,
        )
        carried: dict[str, str] = {}
        if offered(state.get("choices"), action):
            carried = {str(k): str(v) for k, v in (state.get("params") or {}).items()}
        ctx.params = (
            {**carried, **ctx.params, **action.params, "ref": value}
            if value
            else {**carried, **ctx.params, **action.params}
        )
        ctx.via_action = True
        ctx.text = action.text
        return await self._run(spec, forced, ctx)

    async def _answer_button(
        self, action: Action, nlu: Understanding, ctx: HandlerContext, state: dict[str, Any]
    ) -> Routed:
        """A button answering the open question: the same path as typing its value."""
        expect = state.get("expect")
        if not expect:
            return Routed(
                replies=[Reply(text="That question has expired. What can I do for you?")],
                intent="expired",
            )
        typed = Understanding(
            text=action.value, intent=IntentName.OUT_OF_SCOPE, confidence=0.0, language=nlu.language
        )
        return await self._answer(expect, state.get("nlu") or {}, typed, ctx)

    async def _run(
        self, spec: HandlerSpec | None, nlu: Understanding, ctx: HandlerContext
    ) -> Routed:
        if spec is None:
            return Routed(replies=[], intent=nlu.intent.value)
        if spec.intent:
            name = spec.intent.value
        elif spec.commands:
            name = spec.commands[0]
        else:
            name = spec.actions[0] if spec.actions else spec.func.__name__
        started = time.perf_counter()
        replies = await spec.func(nlu, ctx)
        metrics.HANDLER_SECONDS.labels(name).observe(time.perf_counter() - started)
        routed = Routed(replies=list(replies), intent=name)
        if ctx.carry:
            routed.dialogue = DialogueChange(data={"params": dict(ctx.carry)})
        if ctx.expecting is not None:
            exp = ctx.expecting
            routed.dialogue = DialogueChange(
                data={
                    "expect": {
                        "intent": exp.intent,
                        "slot": exp.slot,
                        "entity": exp.entity,
                        "params": dict(exp.params),
                    },
                    "nlu": nlu.to_dict(),
                }
            )
        return routed

    def _remember(self, routed: Routed, ctx: HandlerContext) -> Routed:
        """Keep the last choices offered, so a typed number or keyword can pick one."""
        buttons = [b for r in routed.replies for b in r.buttons]
        if not buttons:
            return routed
        data = dict(routed.dialogue.data or {})
        data.setdefault("choices", [b.to_dict() for b in buttons])
        routed.dialogue = DialogueChange(data=data)
        return routed
