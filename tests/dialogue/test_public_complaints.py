"""A negative message in public is flagged to the desk at once; a calm one is not."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.conversation import Address
from handlers.context import HandlerContext
from handlers.social import flag_if_negative
from store.uow import UnitOfWork

from .conftest import Dialogue

ANGRY = "@acme absolutely furious, you charged me twice and support ignores me"
CALM = "@acme my order hasn't arrived yet, can you check?"


async def _flag(dialogue: Dialogue, ref: str, text: str) -> tuple[bool, HandlerContext]:
    async with UnitOfWork(dialogue.factory) as uow:
        desk = await uow.desk.default_group()
        assert desk is not None
        desk.slack_channel = "C0DESK"
        alice = await uow.people.by_email("alice@example.com")
        assert alice is not None
        ctx = HandlerContext(
            uow=uow,
            person=alice,
            address=Address(channel="x", conversation="1", user="1"),
            now=datetime.now(UTC),
        )
        flagged = await flag_if_negative(ctx, text, [ref], where="X")
        await uow.commit()
    return flagged, ctx


async def test_an_angry_public_message_is_flagged_to_the_desk(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("charged twice")
    before = (await dialogue.ticket(ref)).priority
    flagged, ctx = await _flag(dialogue, ref, ANGRY)
    assert flagged
    [told] = ctx.outgoing
    assert told.address is not None
    assert (told.address.channel, told.address.conversation) == ("slack", "C0DESK")
    assert "negative public message on X about " + ref in told.reply.text
    async with UnitOfWork(dialogue.factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        actions = [e.action for e in await uow.tickets.events(ticket.id)]
    assert "flagged" in actions
    assert (await dialogue.ticket(ref)).priority == before  # a flag is not a priority


async def test_a_calm_public_message_is_not_flagged(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("order late")
    flagged, ctx = await _flag(dialogue, ref, CALM)
    assert not flagged
    assert ctx.outgoing == []
