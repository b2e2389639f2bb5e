"""A number is a ticket only when the message names it as one."""

from __future__ import annotations

from store.enums import Status

from .conftest import Dialogue


async def test_case_and_a_count_is_a_report_not_a_look_up(dialogue: Dialogue) -> None:
    turn = await dialogue.say("case 100 printers are broken", expect=["+INC-1"])
    assert "I've logged INC-1" in turn.text
    assert "couldn't find" not in turn.text


async def test_case_and_a_count_answers_the_pending_question(dialogue: Dialogue) -> None:
    # Read as "ticket #100", the message was taken for a new request and filed a second
    # incident instead of answering "which system is affected?".
    await dialogue.say("something is broken on my computer", expect=["+INC-1"])
    assert dialogue.pending() == "service"
    turn = await dialogue.say("case 100 printers are broken")
    assert "INC-1 is now filed under Printing" in turn.text
    assert dialogue.pending() is None
    assert len(await dialogue.tickets()) == 1


async def test_case_with_a_hash_is_a_reference(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Printer jammed")
    number = ref.split("-")[1]
    turn = await dialogue.say(f"what's the status of case #{number}?")
    assert f"{ref} is {Status.NEW.label}" in turn.text
    assert len(await dialogue.tickets()) == 1
