"""The router: confident intents to handlers, clarifying questions, follow-up answers, choices."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.router import IntentRouter, Routed
from channels.conversation import Action, Address, Identity, Message
from handlers.context import ANSWER_ACTION, HandlerContext
from handlers.registry import load
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory, create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

ADDRESS = Address(channel="console", conversation="alice@example.com", user="alice@example.com")
SENDER = Identity(platform="console", external_id="alice@example.com", email="alice@example.com")


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    from bot.demo import seed_demo

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/r.db")
    await upgrade_engine(engine)
    f = session_factory(engine)
    async with UnitOfWork(f) as uow:
        await seed_demo(uow)
        await uow.commit()
    yield f
    await engine.dispose()


def understood(
    text: str,
    intent: IntentName,
    confidence: float = 0.9,
    *,
    alternatives: tuple[tuple[IntentName, float], ...] = (),
    entities: tuple[Entity, ...] = (),
) -> Understanding:
    return Understanding(
        text=text,
        intent=intent,
        confidence=confidence,
        alternatives=alternatives,
        entities=entities,
        threshold=0.5,
    )


def service(name: str, text: str) -> Entity:
    start = text.lower().find(name.lower())
    return Entity(entity="service", value=name, start=start, end=start + len(name), text=name)


@dataclass
class Conversation:
    factory: SessionFactory
    router: IntentRouter = field(default_factory=lambda: IntentRouter(load()))
    state: dict[str, Any] | None = None

    async def send(self, event: Message | Action, nlu: Understanding) -> Routed:
        async with UnitOfWork(self.factory) as uow:
            person = await uow.people.by_email("alice@example.com")
            assert person is not None
            ctx = HandlerContext(
                uow=uow, person=person, address=ADDRESS, now=datetime.now(UTC), text=nlu.text
            )
            routed = await self.router.dispatch(event, nlu, ctx, self.state)
            await uow.commit()
        if routed.dialogue.data is not None:
            self.state = routed.dialogue.data
        elif routed.dialogue.clear:
            self.state = None
        return routed

    async def say(self, nlu: Understanding) -> Routed:
        msg = Message(event_id="e", address=ADDRESS, sender=SENDER, text=nlu.text)
        return await self.send(msg, nlu)

    async def click(self, name: str, value: str = "") -> Routed:
        act = Action(event_id="a", address=ADDRESS, sender=SENDER, name=name, value=value)
        return await self.send(act, understood("", IntentName.OUT_OF_SCOPE, 0.0))


async def test_confident_intent_goes_to_its_handler(factory: SessionFactory) -> None:
    c = Conversation(factory)
    text = "the VPN is down"
    routed = await c.say(
        understood(text, IntentName.REPORT_INCIDENT, entities=(service("VPN", text),))
    )
    assert routed.intent == "report_incident"
    assert routed.replies[0].ticket_ref == "INC-1"
    assert c.state is None


async def test_unsure_asks_with_the_two_likeliest_and_a_choice_resumes(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    text = "printer thing on floor 3"
    nlu = understood(
        text,
        IntentName.REPORT_INCIDENT,
        0.3,
        alternatives=((IntentName.REQUEST_SERVICE, 0.25), (IntentName.GREET, 0.1)),
        entities=(service("printer", text),),
    )
    routed = await c.say(nlu)
    assert routed.intent == "clarify"
    [question] = routed.replies
    assert [b.value for b in question.buttons] == ["report_incident", "request_service", "other"]
    # Typing the number of a choice works on channels without buttons.
    chosen = await c.say(understood("1", IntentName.OUT_OF_SCOPE, 0.2))
    assert chosen.intent == "report_incident"
    assert chosen.replies[0].ticket_ref == "INC-1"
    assert chosen.replies[0].card is not None
    assert chosen.replies[0].card.title.startswith("Printer thing")


async def test_clicking_something_else_is_out_of_scope(factory: SessionFactory) -> None:
    c = Conversation(factory)
    nlu = understood("blah", IntentName.CHECK_STATUS, 0.2, alternatives=((IntentName.HELP, 0.1),))
    await c.say(nlu)
    routed = await c.click("choose_intent", "other")
    assert routed.intent == "out_of_scope"


async def test_report_is_logged_first_and_the_answer_improves_it(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    asked = await c.say(understood("it's broken again and again", IntentName.REPORT_INCIDENT))
    assert asked.replies[0].ticket_ref == "INC-1"
    assert asked.replies[0].text.endswith("which system is affected?")
    assert c.state is not None
    answer = "the wifi"
    routed = await c.say(
        understood(answer, IntentName.OUT_OF_SCOPE, 0.4, entities=(service("Wi-Fi", "the Wi-Fi"),))
    )
    assert routed.intent == "report_incident"
    ticket = routed.replies[0]
    assert ticket.ticket_ref == "INC-1"
    assert ticket.card is not None
    assert ticket.card.service == "Wi-Fi"
    assert ticket.card.title == "It's broken again and again"
    assert c.state is None


async def test_free_text_answer_still_files_the_report(factory: SessionFactory) -> None:
    c = Conversation(factory)
    await c.say(understood("it doesn't work", IntentName.REPORT_INCIDENT))
    routed = await c.say(understood("the thing in room 4", IntentName.OUT_OF_SCOPE, 0.3))
    assert routed.replies[0].ticket_ref == "INC-1"
    assert routed.replies[0].card is not None
    assert routed.replies[0].card.service is None


async def test_cancel_drops_the_question_not_the_ticket(factory: SessionFactory) -> None:
    c = Conversation(factory)
    await c.say(understood("my screen is flickering", IntentName.REPORT_INCIDENT))
    routed = await c.say(understood("never mind", IntentName.CANCEL))
    assert routed.intent == "cancel"
    assert "dropped" in routed.replies[0].text
    assert c.state is None
    again = await c.say(understood("status of my tickets", IntentName.CHECK_STATUS))
    assert "INC-1" in again.replies[0].text


async def test_help_is_made_of_the_handlers_own_descriptions(factory: SessionFactory) -> None:
    c = Conversation(factory)
    routed = await c.say(understood("help", IntentName.HELP))
    text = routed.replies[0].text
    for spec in load().specs:
        if spec.listed and spec.intent is not None:
            assert spec.help in text


async def test_unknown_button_is_answered_not_raised(factory: SessionFactory) -> None:
    c = Conversation(factory)
    routed = await c.click("self_destruct", "INC-1")
    assert routed.intent == "unknown_action"
    assert "no longer available" in routed.replies[0].text


async def test_expired_question_is_explained(factory: SessionFactory) -> None:
    c = Conversation(factory)
    routed = await c.click("choose_intent", "report_incident")
    assert "expired" in routed.replies[0].text


async def test_an_answer_button_answers_the_open_question_as_typed(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    await c.say(understood("it doesn't work", IntentName.REPORT_INCIDENT))
    routed = await c.click(ANSWER_ACTION, "the thing in room 4")
    assert routed.intent == "report_incident"
    assert routed.replies[0].ticket_ref == "INC-1"
    assert c.state is None


async def test_an_answer_button_without_a_question_is_explained(factory: SessionFactory) -> None:
    routed = await Conversation(factory).click(ANSWER_ACTION, "2")
    assert routed.intent == "expired"
    assert "expired" in routed.replies[0].text


async def test_a_command_word_that_is_not_a_command_is_routed_by_its_meaning(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    sure = await c.say(understood("link these incidents to a new problem", IntentName.GREET))
    assert sure.intent == "greet"
    # Below the threshold it is a guess like any other message: the router asks.
    unsure = await c.say(
        understood(
            "schedule a meeting room for friday",
            IntentName.REQUEST_SERVICE,
            0.2,
            alternatives=((IntentName.REQUEST_CATALOG, 0.15),),
        )
    )
    assert unsure.intent == "clarify"
    assert "Which change" not in unsure.replies[0].text


async def test_a_command_that_names_its_ticket_is_still_a_command(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    ref = Entity(entity="ticket_ref", value="CHG-99", start=10, end=16, text="CHG-99")
    routed = await c.say(understood("implement CHG-99", IntentName.GREET, entities=(ref,)))
    assert routed.intent == "implement"


async def test_the_clarifying_question_is_asked_in_the_language_of_the_message(
    factory: SessionFactory,
) -> None:
    c = Conversation(factory)
    nlu = Understanding(
        text="打印机那个事",
        intent=IntentName.REPORT_INCIDENT,
        confidence=0.2,
        alternatives=((IntentName.REQUEST_SERVICE, 0.15),),
        threshold=0.5,
        language="zh",
    )
    routed = await c.say(nlu)
    assert routed.intent == "clarify"
    [question] = routed.replies
    assert question.text == "我不太确定你的意思。你是想："
    assert [b.label for b in question.buttons] == ["报告故障", "申请服务", "其他"]


async def test_a_clarification_keeps_the_intent_the_model_guessed(factory: SessionFactory) -> None:
    from sqlalchemy import select

    from store.nlu_misses import NluMiss

    c = Conversation(factory)
    unsure = understood(
        "printer thing", IntentName.REPORT_INCIDENT, 0.3, alternatives=((IntentName.HELP, 0.2),)
    )
    assert (await c.say(unsure)).intent == "clarify"
    c.state = None
    # A confident "not IT" is an answer, not a miss: nothing is kept for it.
    await c.say(understood("what's the weather", IntentName.OUT_OF_SCOPE, 0.95))
    async with UnitOfWork(factory) as uow:
        rows = list(await uow.session.scalars(select(NluMiss)))
    assert [(r.outcome, r.guessed, r.channel) for r in rows] == [
        ("clarify", "report_incident", ADDRESS.channel)
    ]
    assert rows[0].confidence == pytest.approx(0.3)
