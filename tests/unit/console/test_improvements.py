"""The improvement register from chat: an idea is stored as proposed, with who and where."""

from __future__ import annotations

from datetime import UTC, datetime

from channels.conversation import Address
from handlers.context import HandlerContext
from handlers.improvements import idea_title, submit_idea
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory
from store.improvements import Stage
from store.uow import UnitOfWork


async def say(factory: SessionFactory, text: str, entities: tuple[Entity, ...] = ()) -> str:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        assert alice is not None
        ctx = HandlerContext(
            uow=uow,
            person=alice,
            address=Address(channel="slack", conversation="D1", user="U0ALICE"),
            now=datetime.now(UTC),
            text=text,
        )
        nlu = Understanding(
            text=text, intent=IntentName.SUBMIT_IDEA, confidence=0.9, entities=entities
        )
        [reply] = await submit_idea(nlu, ctx)
        await uow.commit()
        return reply.text


def test_the_lead_in_is_not_part_of_the_idea() -> None:
    assert idea_title("idea: auto-reset passwords from Slack") == "auto-reset passwords from Slack"
    assert idea_title("建议：自助重置密码") == "自助重置密码"
    assert idea_title("Idea:   ") == ""


async def test_an_idea_is_registered_as_proposed(factory: SessionFactory) -> None:
    text = "idea: auto-reset passwords from Slack, like INC-4 asked"
    said = await say(
        factory,
        text,
        (
            Entity(entity="ticket_ref", value="INC-4", start=text.index("INC-4"), end=len(text)),
            Entity(entity="service", value="Slack", start=0, end=1),
        ),
    )
    assert said.startswith("Thanks! I've added IDEA-1 to the improvement register")
    async with UnitOfWork(factory) as uow:
        [row] = await uow.improvements.listing()
        assert row.title == "auto-reset passwords from Slack, like INC-4 asked"
        assert row.stage == Stage.PROPOSED.value
        assert row.proposer is not None
        assert row.proposer.email == "alice@example.com"
        assert (row.channel, row.ticket_ref, row.service) == ("slack", "INC-4", "Slack")


async def test_an_empty_idea_is_asked_for(factory: SessionFactory) -> None:
    assert await say(factory, "idea:") == "What's your idea? Tell me in a sentence or two."
    async with UnitOfWork(factory) as uow:
        assert await uow.improvements.listing() == []
