"""Answers before tickets: offer a knowledge article that fits, and file only if it didn't help.

Before a one-person problem report, a how-to question or a request is filed, the best
matching article is offered with "Did this solve it? Yes / No". Yes closes the conversation
with no ticket and is stored as a deflection; no files the ticket as it would have been filed,
from the words first written. Both answers are also the article's feedback. Outages and
urgent reports are never held up (`rules/deflect.py`).

An offer left unanswered is not lost with the conversation's state: each is stored
(`store.deflections`) and, once `ANSWER_WITHIN` has passed without a Yes or No, the scheduler
files the ticket where it was reported (`file_unanswered`) and counts the offer `expired`.
A Yes or No arriving after that is told which ticket was filed, and files nothing more.
"""

from __future__ import annotations

import functools
import json
from datetime import timedelta
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, normalise, say
from handlers.rules import deflect
from handlers.rules.priority import reach_of
from nlu.types import Entity, EntityName, IntentName, Understanding
from store.deflections import DeflectionOffer
from store.enums import Level
from store.segment import query_terms, terms

YES, NO = "deflect_yes", "deflect_no"
DEFLECTED, DECLINED, EXPIRED = "deflected", "declined", "expired"
INTENT, ARTICLE, ORIGINAL = "deflect_intent", "deflect_article", "deflect_nlu"
OFFER = "deflect_offer"
ANSWER_WITHIN = timedelta(minutes=15)
"""How long an offer waits for Yes or No before the ticket is filed anyway; the same as the
dialogue's time to live, after which the offer's buttons no longer carry what to file."""
ASKED = "deflect_person"
SKIP = "deflection_declined"
"""Set in `params` when the person already said no: file without asking again."""
EXCERPT = 500


async def offer(
    nlu: Understanding, ctx: HandlerContext, intent: IntentName, *, urgency: Level | None = None
) -> list[Reply] | None:
    """The article offer for a fresh message that an article fits, else None (file it)."""
    if ctx.via_action or ctx.params:
        # Answers to questions and confirmed actions go ahead as asked.
        return None
    text = nlu.text or ctx.text
    said = nlu.first(EntityName.IMPACT)
    levels = {level.value: level for level in Level}
    reach = reach_of(text, levels.get(said.value) if said else None)
    if not deflect.may_offer(reach, urgency, incident=intent is IntentName.REPORT_INCIDENT):
        return None
    message = query_terms(text)
    named = nlu.first(EntityName.SERVICE)
    about = named.value if named else None
    for hit in await ctx.uow.knowledge.search_text(text, limit=3, about=about):
        a = hit.article
        if not deflect.fits(message, _terms(f"{a.title} {' '.join(a.tags or ())}"), _terms(a.body)):
            continue
        stored = await ctx.uow.deflection_offers.add(
            person_id=ctx.person.id,
            intent=intent.value,
            article_id=a.id,
            original=nlu.to_dict(),
            address=ctx.address.to_dict(),
            now=ctx.now,
            expires_at=ctx.now + ANSWER_WITHIN,
        )
        ctx.carry = {
            ASKED: str(ctx.person.id),
            INTENT: intent.value,
            ARTICLE: str(a.id),
            ORIGINAL: json.dumps(nlu.to_dict(), ensure_ascii=False),
            OFFER: str(stored.id),
        }
        minutes = int(ANSWER_WITHIN.total_seconds() // 60)
        excerpt = a.body.strip()
        if len(excerpt) > EXCERPT:
            excerpt = excerpt[: EXCERPT - 1].rsplit(" ", 1)[0] + "…"
        lang = language(ctx, nlu)
        return [
            Reply(
                text=say(lang, "deflect.offer", title=a.title, excerpt=excerpt, minutes=minutes),
                buttons=(
                    Button(label=say(lang, "confirm.yes"), action=YES, style=ButtonStyle.PRIMARY),
                    Button(label=say(lang, "confirm.no"), action=NO),
                ),
            )
        ]
    return None


@functools.lru_cache(maxsize=256)
def _terms(text: str) -> frozenset[str]:
    # The same few articles come back for message after message: their terms are made once.
    return frozenset(terms(text))


def _not_theirs(ctx: HandlerContext) -> list[Reply] | None:
    """In a shared conversation, only the person who was offered the article answers."""
    asked = ctx.params.get(ASKED, "")
    if asked and asked != str(ctx.person.id):
        return [Reply(text=say(_lang(ctx), "deflect.someone_else"), ephemeral=True)]
    return None


def _lang(ctx: HandlerContext, original: Understanding | None = None) -> str:
    """The language to answer a button in: the person's preference, else the message's.

    The message is the one the article was offered for, since a button press carries no words
    to tell the language by.
    """
    if original is None:
        original = _original(ctx.params.get(ORIGINAL, ""))
    return (
        normalise(ctx.person.language) or normalise(original.language if original else None) or "en"
    )


def _article_id(ctx: HandlerContext) -> int | None:
    raw = ctx.params.get(ARTICLE, "")
    return int(raw) if raw.isdigit() else None


async def _record(ctx: HandlerContext, outcome: str) -> None:
    article = _article_id(ctx)
    if article is not None and not await ctx.uow.catalog.article_exists(article):
        article = None  # removed since it was offered; the deflection still counts
    intent = ctx.params.get(INTENT, "")[:40] or "unknown"
    await ctx.uow.catalog.record_deflection(
        person_id=ctx.person.id,
        intent=intent,
        article_id=article,
        outcome=outcome,
        channel=ctx.channel,
    )
    if article is not None and outcome in (DEFLECTED, DECLINED):
        # Silence says nothing about the article: only an answer is its feedback.
        await ctx.uow.knowledge.record_feedback(
            article, helpful=outcome == DEFLECTED, person_id=ctx.person.id, channel=ctx.channel
        )


@registry.action(YES)
async def deflected(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The article solved it: no ticket."""
    if (refused := _not_theirs(ctx)) is not None:
        return refused
    lang = _lang(ctx)
    if not ctx.params.get(INTENT):
        return [Reply(text=say(lang, "deflect.sorted"), replaces=True)]
    filed = await _settled_already(ctx, DEFLECTED)
    if filed is not None:
        return [
            Reply(
                text=say(lang, "deflect.glad_filed", ref=filed)
                if filed
                else say(lang, "deflect.glad"),
                ticket_ref=filed or None,
                replaces=True,
            )
        ]
    await _record(ctx, DEFLECTED)
    return [
        Reply(
            text=say(lang, "deflect.glad_no_ticket"),
            replaces=True,
        )
    ]


@registry.action(NO)
async def declined(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The article didn't help: file the ticket from what was first written."""
    if (refused := _not_theirs(ctx)) is not None:
        return refused
    original = _original(ctx.params.get(ORIGINAL, ""))
    lang = _lang(ctx, original)
    intents = {i.value: i for i in IntentName}
    intent = intents.get(ctx.params.get(INTENT, ""))
    spec = registry.for_intent(intent) if intent is not None else None
    if original is None or spec is None:
        return [Reply(text=say(lang, "deflect.sorry"))]
    filed = await _settled_already(ctx, DECLINED)
    if filed:
        return [
            Reply(
                text=say(lang, "deflect.logged_already", ref=filed),
                ticket_ref=filed,
                replaces=True,
            )
        ]
    await _record(ctx, DECLINED)
    ctx.text = original.text
    ctx.params = {SKIP: "1"}
    ctx.via_action = False
    ctx.carry = {}
    return list(await spec.func(original, ctx))


async def _settled_already(ctx: HandlerContext, outcome: str) -> str | None:
    """Settle the stored offer with `outcome`; None when it was open (or is not stored).

    An offer settled before (it expired and its ticket was filed) gives that ticket's
    reference, or "" when nothing was filed.
    """
    raw = ctx.params.get(OFFER, "")
    if not raw.isdigit():
        return None
    if await ctx.uow.deflection_offers.settle(int(raw), outcome, ctx.now):
        return None
    offer = await ctx.uow.deflection_offers.get(int(raw))
    return (offer.ticket_ref or "") if offer is not None else None


async def file_unanswered(ctx: HandlerContext, offer: DeflectionOffer) -> list[Reply]:
    """File the ticket of an offer nobody answered in time, as a No would have.

    The caller has settled the offer as `expired` in the same transaction; `ctx` is the
    person who was offered the article, at the address where it was offered.
    """
    original = _understanding(offer.original)
    intents = {i.value: i for i in IntentName}
    intent = intents.get(offer.intent)
    spec = registry.for_intent(intent) if intent is not None else None
    if original is None or spec is None:
        return []
    ctx.params = {INTENT: offer.intent, ARTICLE: str(offer.article_id or "")}
    await _record(ctx, EXPIRED)
    ctx.text = original.text
    ctx.params = {SKIP: "1"}
    ctx.via_action = False
    ctx.carry = {}
    replies = list(await spec.func(original, ctx))
    offer.ticket_ref = next((r.ticket_ref for r in replies if r.ticket_ref), None)
    if not replies:
        return []
    lead = Reply(text=say(_lang(ctx, original), "deflect.logged_unanswered"))
    return [lead, *replies]


def _original(raw: str) -> Understanding | None:
    """The understanding of the first message, kept with the offer."""
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    return _understanding(data)


def _understanding(data: Any) -> Understanding | None:
    try:
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
            text=str(data["text"]),
            intent=IntentName(data["intent"]),
            confidence=float(data.get("confidence", 1.0)),
            entities=entities,
            language=str(data.get("language", "en")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
