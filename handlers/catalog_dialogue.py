"""The catalog form as a dialogue: the first message, each missing field asked, the summary.

"I need a new laptop" finds the item, takes what the first message already answers, asks
each missing field in turn (an answer that does not fit is asked again with the reason),
shows a summary and asks to submit. The form's progress travels in the dialogue state
(`ctx.expect` and `ctx.carry`), so a worker restart between two answers loses nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from channels.conversation import Button, ButtonStyle, Reply
from handlers.catalog_chain import approver_words, steps_of
from handlers.catalog_items import item_fields, known, may_order
from handlers.context import ANSWER_ACTION, HandlerContext
from handlers.errors import explain
from handlers.registry import registry
from handlers.replies import language, say
from handlers.rules import catalog_form as form
from nlu.types import EntityName, IntentName, Understanding
from store.catalog import CatalogItem

ITEM = "catalog_item"
ANSWERS = "catalog_answers"
FIELD = "catalog_field"
TEXT = "original_text"
OWNER = "catalog_owner"
SLOT = "answer"
SUBMIT, CANCEL, ORDER = "catalog_submit", "catalog_cancel", "catalog_order"
LISTED = 8
KEYBOARD_CHANNELS = frozenset({"telegram"})
"""Channels where a choice field's choices are offered as a keyboard as well."""

ORDER_INTENT = IntentName.REQUEST_CATALOG
"""The intent whose handler continues a form (`handlers.requests` serves it: stored items
through their form, anything else as a free-text request)."""

# A CI answer is read as typed: the NLU's `service` entity knows services, not every CI,
# and would turn "payroll-db" into the Payroll service.
_ENTITY_OF = {form.FieldType.DATE: EntityName.DATETIME, form.FieldType.EMAIL: EntityName.EMAIL}


def _prefill(item: CatalogItem, nlu: Understanding) -> dict[str, str]:
    """Answers the first message already gives: an email, a date, one of a field's choices."""
    answers: dict[str, str] = {}
    said = nlu.text.casefold()
    for f in item_fields(item):
        raw: str | None = None
        entity = _ENTITY_OF.get(f.type)
        if entity is not None:
            found = nlu.first(entity)
            raw = found.value if found else None
        elif f.type is form.FieldType.CHOICE:
            named = [
                c for c in f.choices if re.search(rf"(?<!\w){re.escape(c.casefold())}(?!\w)", said)
            ]
            raw = named[0] if len(named) == 1 else None
        if raw is None:
            continue
        try:
            answers[f.name] = form.check(f, raw)
        except form.AnswerError:
            continue
    return answers


def _state(item: CatalogItem, answers: Mapping[str, str], text: str, owner: int) -> dict[str, str]:
    return {
        ITEM: item.name,
        ANSWERS: json.dumps(dict(answers)),
        TEXT: text[:2000],
        OWNER: str(owner),
    }


def _owner(ctx: HandlerContext) -> int:
    """Whose form this is: the person who started it (a shared channel has several people)."""
    raw = ctx.params.get(OWNER, "")
    return int(raw) if raw.isdigit() else ctx.person.id


def someone_else(ctx: HandlerContext) -> bool:
    """Whether the person answering is not the one whose form this is."""
    return _owner(ctx) != ctx.person.id


def answers_of(params: Mapping[str, str]) -> dict[str, str]:
    """The answers given so far, as the dialogue state carries them."""
    try:
        loaded = json.loads(params.get(ANSWERS) or "{}")
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(k): str(v) for k, v in loaded.items()}


def _intent(nlu: Understanding) -> str:
    if nlu.intent in (IntentName.REQUEST_SERVICE, ORDER_INTENT):
        return nlu.intent.value
    return ORDER_INTENT.value


async def start_order(nlu: Understanding, ctx: HandlerContext, item: CatalogItem) -> list[Reply]:
    """Begin filling an item's form from the first message."""
    lang = language(ctx, nlu)
    if not may_order(item, ctx.person):
        who = _who_may(item, lang)
        return [Reply(text=say(lang, "catalog.not_for_you", item=item.name, who=who))]
    answers = _prefill(item, nlu)
    cost = f" ({item.cost})" if item.cost else ""
    intro = say(lang, "catalog.lets_order", item=item.name, cost=cost)
    return _ask_or_summarise(
        ctx, item, answers, ctx.text, intent=_intent(nlu), intro=intro, lang=lang
    )


def _who_may(item: CatalogItem, lang: str = "en") -> str:
    parts = []
    either = say(lang, "catalog.or")
    if item.roles:
        roles = either.join(str(r) for r in item.roles)
        parts.append(say(lang, "catalog.role_people", roles=roles))
    if item.organisations:
        orgs = either.join(str(o) for o in item.organisations)
        parts.append(say(lang, "catalog.org_people", orgs=orgs))
    both = say(lang, "catalog.and")
    return say(lang, "catalog.for_whom", parts=both.join(parts)) if parts else ""


async def continue_order(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The answer to the question asked last: checked, kept, and the next question asked."""
    lang = language(ctx, nlu)
    item = await ctx.uow.catalog.named(ctx.params.get(ITEM, ""))
    if item is None or not item.active:
        return [Reply(text=say(lang, "catalog.item_gone_stopped"))]
    answers = answers_of(ctx.params)
    text = ctx.params.get(TEXT, "")
    fields = {f.name: f for f in item_fields(item)}
    asked = fields.get(ctx.params.get(FIELD, ""))
    if someone_else(ctx):
        # In a shared conversation the question stays open for the person who ordered.
        if asked is not None:
            _expect(ctx, item, answers, text, asked, intent=_intent(nlu))
        return [Reply(text=say(lang, "catalog.waiting_owner"))]
    if asked is not None:
        try:
            checked = form.check(asked, ctx.params.get(SLOT, ""))
            answers[asked.name] = await known(ctx.uow, asked, checked)
        except form.AnswerError as e:
            _expect(ctx, item, answers, text, asked, intent=_intent(nlu))
            return [Reply(text=f"{explain(e, lang)} {asked.question_in(lang)}")]
    return _ask_or_summarise(ctx, item, answers, text, intent=_intent(nlu), lang=lang)


def _expect(
    ctx: HandlerContext,
    item: CatalogItem,
    answers: Mapping[str, str],
    text: str,
    field: form.FormField,
    *,
    intent: str,
) -> None:
    entity = _ENTITY_OF.get(field.type)
    ctx.expect(
        SLOT,
        intent=intent,
        entity=entity.value if entity else None,
        params={**_state(item, answers, text, _owner(ctx)), FIELD: field.name},
    )


def _ask_or_summarise(
    ctx: HandlerContext,
    item: CatalogItem,
    answers: dict[str, str],
    text: str,
    *,
    intent: str,
    intro: str = "",
    lang: str = "en",
) -> list[Reply]:
    fields = item_fields(item)
    pending = form.next_field(fields, answers)
    # Chinese sentences run on without a space after the full stop.
    lead = f"{intro} " if intro and not intro.endswith("。") else intro
    if pending is not None:
        # Choices are numbered in the text on every channel; where a keyboard is the custom
        # (Telegram) they are buttons too, which answer the same question as typing them.
        _expect(ctx, item, answers, text, pending, intent=intent)
        keys: tuple[Button, ...] = ()
        if pending.type is form.FieldType.CHOICE and ctx.channel in KEYBOARD_CHANNELS:
            keys = tuple(
                Button(label=c, action=ANSWER_ACTION, value=str(i))
                for i, c in enumerate(pending.choices, start=1)
            )
        return [Reply(text=f"{lead}{pending.question_in(lang)}", buttons=keys)]
    ctx.carry = _state(item, answers, text, _owner(ctx))
    lines = [say(lang, "catalog.summary", lead=lead, item=item.name)]
    none = say(lang, "catalog.no_answer")
    lines += [f"• {f.label_in(lang)}: {answers.get(f.name) or none}" for f in fields]
    if steps_of(item):
        lines.append(say(lang, "catalog.needs_approval", who=approver_words(item, lang)))
    lines.append(say(lang, "catalog.submit_it"))
    return [
        Reply(
            text="\n".join(lines),
            buttons=(
                Button(label=say(lang, "confirm.yes"), action=SUBMIT, style=ButtonStyle.PRIMARY),
                Button(label=say(lang, "confirm.no"), action=CANCEL),
            ),
        )
    ]


@registry.action(ORDER)
async def order_item(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A click on an item in the catalog list."""
    item = await ctx.uow.catalog.find(ctx.params.get("ref", ""))
    if item is None:
        return [Reply(text=say(language(ctx, nlu), "catalog.item_gone"))]
    ctx.text = ""
    return await start_order(nlu, ctx, item)


@registry.action(CANCEL)
async def cancel_order(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The person decided not to submit the order."""
    lang = language(ctx, nlu)
    if someone_else(ctx):
        return [Reply(text=say(lang, "catalog.cancel_owner_only"))]
    what = ctx.params.get(ITEM) or say(lang, "catalog.the_order")
    return [Reply(text=say(lang, "catalog.dropped", what=what), replaces=True)]


async def list_items(ctx: HandlerContext) -> list[Reply]:
    """The items this person may order, by category, for "What can I order?"."""
    items = [i for i in await ctx.uow.catalog.items() if may_order(i, ctx.person)]
    lang = language(ctx)
    if not items:
        return [Reply(text=say(lang, "catalog.nothing"))]
    lines = [say(lang, "catalog.list")]
    category = None
    for i in items:
        if i.category != category and i.category:
            lines.append(f"{i.category}:")
        category = i.category
        about = f": {i.description.splitlines()[0][:120]}" if i.description else ""
        lines.append(f"• {i.name}{about}")
    lines.append(say(lang, "catalog.list_hint"))
    buttons = tuple(Button(label=i.name, action=ORDER, value=i.name) for i in items[:LISTED])
    return [Reply(text="\n".join(lines), buttons=buttons)]
