"""A reply the bot cannot understand after two clarifications goes to a person, not a loop."""

from __future__ import annotations

from store.enums import Status

from .conftest import Dialogue


async def test_third_unclear_message_hands_over_with_the_conversation(dialogue: Dialogue) -> None:
    first = await dialogue.say("asdf qwerty")
    assert first.routed.intent in ("clarify", "out_of_scope")
    await dialogue.say("blorp")
    turn = await dialogue.say("zzz zzz", expect=["+INC-1"])
    assert "pass this to the desk" in turn.text
    t = await dialogue.ticket("INC-1")
    assert "asdf qwerty" in t.description
    assert "blorp" in t.description
    assert "zzz zzz" in t.description
    assert dialogue.pending() is None


async def test_no_second_hand_over_without_two_more_clarifications(dialogue: Dialogue) -> None:
    for text in ("asdf qwerty", "blorp"):
        await dialogue.say(text)
    await dialogue.say("zzz zzz", expect=["+INC-1"])
    await dialogue.say("asdf qwerty")
    turn = await dialogue.say("blorp")
    assert "pass this to the desk" not in turn.text


async def test_an_understood_message_resets_the_count(dialogue: Dialogue) -> None:
    await dialogue.say("asdf qwerty")
    await dialogue.say("blorp")
    await dialogue.say("what's the status of my tickets")
    turn = await dialogue.say("zzz zzz")
    assert "pass this to the desk" not in turn.text


async def test_clarification_choice_still_works(dialogue: Dialogue) -> None:
    first = await dialogue.say("purple monkey dishwasher")
    assert first.routed.intent == "clarify"
    [question] = first.replies
    assert question.buttons[0].value == "report_incident"
    turn = await dialogue.say("1", expect=["+INC-1"])
    assert "INC-1" in turn.text
    assert (await dialogue.ticket("INC-1")).status is Status.NEW


async def test_clear_small_talk_is_not_handed_over(dialogue: Dialogue) -> None:
    for _ in range(3):
        turn = await dialogue.say("what's the weather like in Paris tomorrow?")
        assert "pass this to the desk" not in turn.text
