"""An article before a ticket: yes files nothing and counts a deflection, no (or no answer in
time) files as before."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.deflection_watch import Filed, file_overdue
from store.catalog import Deflection
from store.models import KnowledgeArticle, KnowledgeFeedback, OutboxMessage
from store.types import utcnow
from store.uow import UnitOfWork

from .conftest import Dialogue


async def deflections(d: Dialogue) -> list[tuple[str, str, str, str]]:
    """(intent, outcome, channel, article slug) of every deflection stored."""
    async with UnitOfWork(d.factory) as uow:
        stmt = (
            select(Deflection, KnowledgeArticle.slug)
            .join(KnowledgeArticle, KnowledgeArticle.id == Deflection.article_id)
            .order_by(Deflection.id)
        )
        rows = (await uow.session.execute(stmt)).all()
        return [(r.intent, r.outcome, r.channel, slug) for r, slug in rows]


async def feedback(d: Dialogue) -> list[bool]:
    async with UnitOfWork(d.factory) as uow:
        return [f.helpful for f in await uow.session.scalars(select(KnowledgeFeedback))]


async def test_yes_files_no_ticket_and_counts_a_deflection(dialogue: Dialogue) -> None:
    turn = await dialogue.say("I forgot my password, how do I reset it?")
    assert "Reset your password" in turn.text
    assert "Did this solve it?" in turn.text
    assert dialogue.pending() == "choice"
    turn = await dialogue.say("yes")
    assert "I haven't opened a ticket" in turn.text
    assert await dialogue.tickets() == []
    assert await deflections(dialogue) == [
        ("request_service", "deflected", "console", "password-reset")
    ]
    assert await feedback(dialogue) == [True]
    async with UnitOfWork(dialogue.factory) as uow:
        assert await uow.catalog.deflection_counts() == {("request_service", "deflected"): 1}


async def test_no_files_the_ticket_from_the_first_message(dialogue: Dialogue) -> None:
    turn = await dialogue.say("my printer keeps jamming")
    assert "Clear a printer jam" in turn.text
    turn = await dialogue.click("deflect_no", expect=["+INC-1"])
    assert "INC-1" in turn.text
    ticket = await dialogue.ticket("INC-1")
    assert ticket.title == "My printer keeps jamming"
    assert ticket.service is not None
    assert ticket.service.name == "Printing"
    assert await deflections(dialogue) == [
        ("report_incident", "declined", "console", "printer-jam")
    ]
    assert await feedback(dialogue) == [False]


async def test_an_outage_is_filed_at_once_article_or_not(dialogue: Dialogue) -> None:
    turn = await dialogue.say("the printer is down for the whole office", expect=["+INC-1"])
    assert "Did this solve it?" not in turn.text
    assert await deflections(dialogue) == []


async def test_a_report_that_does_not_say_whose_it_is_is_filed_at_once(dialogue: Dialogue) -> None:
    await dialogue.say("the printer jammed again", expect=["+INC-1"])


async def test_an_article_that_does_not_fit_is_not_offered(dialogue: Dialogue) -> None:
    turn = await dialogue.say("my laptop screen is cracked", expect=["+INC-1"])
    assert "Did this solve it?" not in turn.text


async def test_in_a_shared_conversation_only_the_person_asked_answers(dialogue: Dialogue) -> None:
    await dialogue.say("my printer keeps jamming")
    dialogue.states["bob@example.com"] = dialogue.states["alice@example.com"]
    turn = await dialogue.say("yes", who="bob@example.com")
    assert "That question was for someone else." in turn.text
    assert await deflections(dialogue) == []


async def overdue(d: Dialogue, minutes: int) -> Filed:
    """One look of the scheduler's job, `minutes` from now."""
    now = utcnow() + timedelta(minutes=minutes)
    return await file_overdue(d.factory, now, topics=lambda topic: [])


async def test_an_unanswered_offer_is_filed_when_its_time_is_over(dialogue: Dialogue) -> None:
    turn = await dialogue.say("my printer keeps jamming")
    assert "within 15 minutes" in turn.text
    assert (await overdue(dialogue, 14)).refs == []
    filed = await overdue(dialogue, 16)
    assert filed.refs == ["INC-1"]
    ticket = await dialogue.ticket("INC-1")
    assert ticket.title == "My printer keeps jamming"
    assert await deflections(dialogue) == [("report_incident", "expired", "console", "printer-jam")]
    assert await feedback(dialogue) == []  # silence is no verdict on the article
    async with UnitOfWork(dialogue.factory) as uow:
        rows = await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.id.in_(filed.outbox_ids))
        )
        told = [(r.address["user"], r.reply["text"]) for r in rows]
    assert told[0][1].startswith("I didn't hear whether the article helped")
    assert any("INC-1" in text for _, text in told)
    assert {user for user, _ in told} == {"alice@example.com"}
    # Filed once: another look, and a late answer, file nothing more.
    assert (await overdue(dialogue, 30)).refs == []
    turn = await dialogue.click("deflect_no")
    assert "I had already logged it as INC-1" in turn.text
    assert len(await dialogue.tickets()) == 1


async def test_an_answered_offer_is_never_filed_later(dialogue: Dialogue) -> None:
    await dialogue.say("I forgot my password, how do I reset it?")
    await dialogue.say("yes")
    assert (await overdue(dialogue, 60)).refs == []
    assert await dialogue.tickets() == []
    assert [o for _, o, _, _ in await deflections(dialogue)] == ["deflected"]
