"""A pending question never swallows a new request; only answer-like replies answer it."""

from __future__ import annotations

from store.enums import Status, TicketKind
from store.uow import UnitOfWork

from .conftest import Dialogue


async def notes(dialogue: Dialogue, ref: str) -> list[str]:
    async with UnitOfWork(dialogue.factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        events = await uow.tickets.events(t.id)
        return [str((e.detail or {}).get("text", "")) for e in events if e.action == "note"]


async def test_ticket_reference_is_not_an_answer(dialogue: Dialogue) -> None:
    old = await dialogue.seed("Laptop fan is loud", service="Laptops")
    asked = await dialogue.say("my screen is flickering", expect=["+INC-2"])
    assert dialogue.pending() == "service"
    assert "which system is affected?" in asked.text
    turn = await dialogue.say(f"{old}: it only happens on Wi-Fi")
    assert "earlier question" in turn.text
    assert f"Added your note to {old}" in turn.text
    assert await notes(dialogue, old) == [f"{old}: it only happens on Wi-Fi"]
    assert (await dialogue.ticket("INC-2")).service is None
    assert dialogue.pending() is None


async def test_hesitation_keeps_the_question(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("hmm let me think")
    assert "No rush" in turn.text
    assert dialogue.pending() == "service"
    await dialogue.say("wifi")
    t = await dialogue.ticket("INC-1")
    assert t.service is not None
    assert t.service.name == "Wi-Fi"


async def test_laptop_answers_which_system(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("laptop")
    assert "Laptops" in turn.text
    t = await dialogue.ticket("INC-1")
    assert t.service is not None
    assert t.service.name == "Laptops"
    assert dialogue.pending() is None


async def test_a_clear_new_request_is_served_and_the_question_dropped(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("I need a new laptop", expect=["+REQ-1"])
    assert "earlier question" in turn.text
    assert "REQ-1" in turn.text
    assert (await dialogue.ticket("REQ-1")).kind is TicketKind.REQUEST
    assert (await dialogue.ticket("INC-1")).service is None
    assert dialogue.pending() is None


async def test_status_question_while_pending(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("what's the status of my tickets")
    assert "INC-1" in turn.text
    assert dialogue.pending() is None


async def test_free_text_answer_is_kept_as_a_note(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("the thing in room 4")
    assert "added that to INC-1" in turn.text
    assert await notes(dialogue, "INC-1") == ["Affected: the thing in room 4"]
    assert (await dialogue.ticket("INC-1")).status is Status.NEW


async def test_dont_know_leaves_it_to_the_desk(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("not sure")
    assert "desk" in turn.text
    assert await notes(dialogue, "INC-1") == []


async def test_cancel_drops_the_question_and_keeps_the_ticket(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say("never mind")
    assert "INC-1 stays with the service desk" in turn.text
    assert (await dialogue.ticket("INC-1")).status is Status.NEW
    assert dialogue.pending() is None


async def test_a_sentence_is_not_a_system_name(dialogue: Dialogue) -> None:
    await dialogue.say("my screen is flickering", expect=["+INC-1"])
    turn = await dialogue.say(
        "could you also tell me how to set up my out of office reply?", expect=["+REQ-1"]
    )
    assert "earlier question" in turn.text
    assert (await dialogue.ticket("INC-1")).service is None


async def test_chinese_answer_names_the_system(dialogue: Dialogue) -> None:
    await dialogue.say("电脑开不了机", expect=["+INC-1"])
    assert dialogue.pending() == "service"
    await dialogue.say("无线网")
    t = await dialogue.ticket("INC-1")
    assert t.service is not None
    assert t.service.name == "Wi-Fi"


async def test_chinese_ticket_reference_while_pending(dialogue: Dialogue) -> None:
    old = await dialogue.seed("Laptop fan is loud", service="Laptops")
    await dialogue.say("电脑开不了机", expect=["+INC-2"])
    turn = await dialogue.say(f"请升级{old}", expect=[f"{old}:priority"])
    # Said in Chinese, so set aside in Chinese.
    assert "先放下我刚才的问题" in turn.text
    assert f"我已升级 {old}" in turn.text
    assert (await dialogue.ticket(old)).escalation_level == 1
