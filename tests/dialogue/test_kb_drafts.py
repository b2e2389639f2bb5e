"""An agent saves a resolved ticket as a knowledge draft from chat; publishing makes it found."""

from __future__ import annotations

from store.enums import Status
from store.uow import UnitOfWork

from .conftest import Dialogue

BOB = "bob@example.com"


async def resolve(d: Dialogue, ref: str, note: str, *, by: str = BOB) -> None:
    """The ticket resolved by `by` with the note of what fixed it, as the resolve handler logs it."""
    async with UnitOfWork(d.factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        agent = await uow.people.by_email(by)
        assert ticket is not None
        assert agent is not None
        ticket.status = Status.RESOLVED
        uow.tickets.log(ticket, "resolved", actor=agent, channel="console", note=note)
        await uow.commit()


async def test_an_agent_saves_the_ticket_they_resolved_as_a_draft(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Outlook asks for the password every hour", service="Email")
    await resolve(dialogue, ref, "Removed the stale credential from Windows Credential Manager.")
    turn = await dialogue.say("save this as an article", who=BOB)
    assert f"I've saved {ref} as a knowledge draft" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        [draft] = await uow.knowledge_drafts.unpublished()
        assert draft.slug == "inc-1-outlook-asks-for-the-password-every-hour"
        assert draft.ticket_ref == ref
        assert "## What fixed it" in draft.body
        assert "Credential Manager" in draft.body
        assert draft.services == ["Email"]
        # A draft is not searched, so it is never offered in place of a ticket.
        hits = await uow.knowledge.search_text("outlook password credential manager")
        assert all(h.article.slug != draft.slug for h in hits)
    again = await dialogue.say(f"save {ref} as an article", who=BOB)
    assert "saved already, as the draft inc-1-" in again.text


async def test_only_agents_save_and_only_resolved_tickets(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops every ten minutes")
    turn = await dialogue.say(f"save {ref} as an article")
    assert "Only agents" in turn.text
    turn = await dialogue.say(f"save {ref} as an article", who=BOB)
    assert "isn't resolved yet" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        assert await uow.knowledge_drafts.unpublished() == []


async def test_a_message_starting_with_save_is_still_understood(dialogue: Dialogue) -> None:
    turn = await dialogue.say("save button is greyed out in excel", expect=["+INC-1"])
    assert "INC-1" in turn.text
