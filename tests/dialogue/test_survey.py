"""After a resolution the requester is asked one question; the answer is kept for reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.sla_watch import SlaWatch
from store.models import OutboxMessage
from store.surveys import satisfaction
from store.uow import UnitOfWork

from .conftest import Dialogue


async def survey_rows(dialogue: Dialogue) -> list[dict[str, Any]]:
    async with UnitOfWork(dialogue.factory) as uow:
        rows = await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [
            {"address": r.address, **r.reply}
            for r in rows
            if "How happy are you" in str(r.reply.get("text"))
        ]


async def resolved_by_bob(dialogue: Dialogue) -> str:
    turn = await dialogue.say("my laptop screen is flickering", expect=["+INC-1"])
    assert "INC-1" in turn.text
    await dialogue.click(
        "assign_me", "INC-1", who="bob@example.com", expect=["INC-1:assignee", "INC-1:status"]
    )
    await dialogue.click("resolve", "INC-1", who="bob@example.com", expect=["INC-1:status"])
    return "INC-1"


async def test_survey_is_asked_once_after_resolve_and_a_button_answer_is_stored(
    dialogue: Dialogue,
) -> None:
    ref = await resolved_by_bob(dialogue)
    assert await survey_rows(dialogue) == []

    watch = SlaWatch(dialogue.factory)
    assert (await watch.tick()).acted == 1
    [asked] = await survey_rows(dialogue)
    # On the channel she used, with a button per rating.
    assert (asked["address"]["channel"], asked["address"]["conversation"]) == (
        "console",
        "alice@example.com",
    )
    assert asked["text"].startswith(f"{ref} (")
    assert [b["label"] for b in asked["buttons"]] == ["1", "2", "3", "4", "5"]
    assert {b["action"] for b in asked["buttons"]} == {"survey"}
    # Asked once: later ticks leave it.
    watch.sweep = 0
    assert (await watch.tick()).acted == 0
    assert len(await survey_rows(dialogue)) == 1

    # Someone else cannot answer for her.
    other = await dialogue.click("survey", f"{ref}:1", who="bob@example.com")
    assert "haven't asked you" in other.text

    turn = await dialogue.click("survey", f"{ref}:4")
    assert f"4/5 for {ref}" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        found = await satisfaction(uow.session)
        assert await uow.surveys.asked_count() == 1
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        actions = [e.action for e in await uow.tickets.events(ticket.id)]
    [row] = found
    assert (row.ticket_ref, row.rating, row.channel, row.agent) == (ref, 4, "console", "Bob Agent")
    assert row.group == (ticket.group.name if ticket.group else None)
    assert actions[-2:] == ["survey_asked", "survey_answered"]


async def test_a_typed_answer_that_is_not_1_to_5_is_asked_again_once(
    dialogue: Dialogue,
) -> None:
    ref = await resolved_by_bob(dialogue)
    await SlaWatch(dialogue.factory).tick()

    again = await dialogue.say(f"rate {ref} 9")
    assert again.text.startswith(f"Sorry, I need a number from 1 to 5 for {ref}.")
    assert len(again.replies[0].buttons) == 5
    dropped = await dialogue.say(f"rate {ref} nine")
    assert "I'll leave" in dropped.text
    async with UnitOfWork(dialogue.factory) as uow:
        assert await satisfaction(uow.session) == []

    # Still free to answer properly, by the button's keyword and with a comment.
    turn = await dialogue.say("rate 5 quick and friendly")
    assert f"5/5 for {ref} and your comment" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        [row] = await satisfaction(uow.session)
    assert (row.rating, row.comment) == (5, "quick and friendly")


async def test_rate_takes_only_rating_forms_and_reads_stars(dialogue: Dialogue) -> None:
    ref = await resolved_by_bob(dialogue)
    await SlaWatch(dialogue.factory).tick()

    # A sentence that merely starts with "rate" is an ordinary message, not an answer.
    chat = await dialogue.say("rate limits on the API are too low")
    assert chat.routed.intent != "rate"
    assert "/5" not in chat.text
    assert "number from 1 to 5" not in chat.text
    async with UnitOfWork(dialogue.factory) as uow:
        assert await satisfaction(uow.session) == []
        ticket = await uow.tickets.by_ref(ref)
        assert ticket is not None
        row = await uow.surveys.of_ticket(ticket.id)
        assert row is not None
        assert not row.reasked

    turn = await dialogue.say(f"rate {ref} ★★★★☆ sorted fast")
    assert f"4/5 for {ref} and your comment" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        [answer] = await satisfaction(uow.session)
    assert (answer.rating, answer.comment) == (4, "sorted fast")


async def test_a_bare_number_without_a_survey_waiting_is_an_ordinary_message(
    dialogue: Dialogue,
) -> None:
    early = await dialogue.say("4")
    assert early.routed.intent != "bare_rating"


async def test_a_bare_number_answers_the_survey_waiting(dialogue: Dialogue) -> None:
    ref = await resolved_by_bob(dialogue)
    # Surveys come after the conversation's own questions have lapsed (a pending question
    # keeps its answer: "which system is affected?" is still open here).
    assert dialogue.pending() == "service"
    dialogue.states["alice@example.com"] = None
    await SlaWatch(dialogue.factory).tick()

    again = await dialogue.say("9")
    assert again.text.startswith(f"Sorry, I need a number from 1 to 5 for {ref}.")
    turn = await dialogue.say("4/5 quick and friendly")
    assert f"4/5 for {ref} and your comment" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        [row] = await satisfaction(uow.session)
    assert (row.ticket_ref, row.rating, row.comment) == (ref, 4, "quick and friendly")

    # Answered: the next bare number is not taken as a rating.
    later = await dialogue.say("3")
    assert later.routed.intent != "bare_rating"
