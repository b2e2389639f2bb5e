"""Public complaints: a negative message in public is flagged to the desk at once.

What people write about us in public is read by everyone, so the desk should see an angry
one before it spreads, whatever its priority. The flag never changes the priority: the
priority rules decide that from impact and urgency alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.replies import channel_language, say
from handlers.tickets import agent_buttons, card

NEGATIVE_SCORE = -0.35
"""How negative a message must be (P(positive) − P(negative)) to be flagged."""


async def sentiment_of(text: str) -> tuple[str, float]:
    """The label and score of one text; the model loads on first use, off the event loop."""
    from nlu.sentiment import analyse

    [found] = await asyncio.to_thread(analyse, [text])
    return found.label, found.score


async def flag_if_negative(
    ctx: HandlerContext, text: str, refs: Iterable[str], *, where: str
) -> bool:
    """Flag the tickets a negative public message is about; whether it was negative."""
    label, score = await sentiment_of(text)
    if label != "negative" or score > NEGATIVE_SCORE:
        return False
    for ref in dict.fromkeys(refs):
        ticket = await ctx.uow.tickets.by_ref(ref)
        if ticket is None:
            continue
        ctx.log(ticket, "flagged", reason="negative public message", where=where, score=score)
        group = await ctx.uow.desk.group(ticket.group_id) if ticket.group_id else None
        group = group or await ctx.uow.desk.default_group()
        lang = await channel_language(ctx.uow, group)
        reply = Reply(
            text=say(lang, "social.negative", where=where, ref=ticket.ref, title=ticket.title),
            card=card(ticket, lang=lang),
            buttons=agent_buttons(ticket, lang),
            ticket_ref=ticket.ref,
        )
        chats = (("slack", group.slack_channel), ("telegram", group.telegram_chat)) if group else ()
        for platform, chat in chats:
            if chat:
                ctx.outgoing.append(
                    Outgoing(
                        reply=reply, address=Address(channel=platform, conversation=chat, user="")
                    )
                )
    return True
