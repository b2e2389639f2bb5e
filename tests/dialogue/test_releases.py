"""Releases in chat: created by agents, approved as one, following their changes."""

from __future__ import annotations

from store.enums import Status, TicketKind
from store.models import ChannelIdentity
from store.releases import ReleaseStatus
from store.uow import UnitOfWork

from .conftest import Dialogue

BOB, CAROL, FRANK = "bob@example.com", "carol@example.com", "frank@example.com"


async def _status(dialogue: Dialogue, name: str) -> ReleaseStatus:
    async with UnitOfWork(dialogue.factory) as uow:
        found = await uow.releases.by_name(name)
        assert found is not None
        return found.status


async def _on_slack(dialogue: Dialogue, *emails: str) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        for email in emails:
            person = await uow.people.by_email(email)
            assert person is not None
            uow.session.add(
                ChannelIdentity(person_id=person.id, platform="slack", external_id=email)
            )
        await uow.commit()


async def test_a_release_is_created_approved_and_follows_its_changes(dialogue: Dialogue) -> None:
    await _on_slack(dialogue, CAROL, FRANK, BOB)
    one = await dialogue.seed(
        "Patch payroll",
        kind=TicketKind.CHANGE,
        service="Payroll",
        status=Status.AWAITING_APPROVAL,
    )
    two = await dialogue.seed(
        "Upgrade mail", kind=TicketKind.CHANGE, service="Email", status=Status.AWAITING_APPROVAL
    )
    refused = await dialogue.say(f"release R-12 for 2027-03-06 22:00 to 02:00 with {one}")
    assert "only agents" in refused.text
    made = await dialogue.say(
        f"release R-12 for 2027-03-06 22:00 to 02:00 with {one} and {two}", who=BOB
    )
    assert "I've created release R-12" in made.text
    assert "Sat 06 Mar 22:00 to Sun 07 Mar 02:00 UTC" in made.text
    assert "awaiting approval" in made.text
    asked = [o for o in made.outgoing if o.reply.buttons]
    assert {o.address.conversation for o in asked if o.address} == {
        CAROL,
        FRANK,
    }
    assert [b.action for b in asked[0].reply.buttons] == ["release_approve", "release_reject"]
    again = await dialogue.say(f"release R-12 for 2027-03-06 22:00 to 23:00 with {one}", who=BOB)
    assert "Nothing new to add" in again.text
    agent = await dialogue.say("approve R-12", who=BOB)
    assert "Only approvers can decide release R-12" in agent.text

    approved = await dialogue.say(
        "approve R-12", who=CAROL, expect=[f"{one}:status", f"{two}:status"]
    )
    assert f"You approved {one}" in approved.text
    assert f"You approved {two}" in approved.text
    assert await _status(dialogue, "R-12") is ReleaseStatus.APPROVED

    outside = await dialogue.say(f"schedule {one} 2027-03-07 09:00 to 10:00")
    assert "is in release R-12" in outside.text
    assert "outside the release window" in outside.text
    inside = await dialogue.say(f"schedule {one} 2027-03-06 22:00 to 23:00")
    assert f"{one} is scheduled" in inside.text
    await dialogue.say(f"schedule {two} 2027-03-06 23:00 to 2027-03-07 01:00")
    started = await dialogue.say(f"implement {one}", expect=[f"{one}:status"])
    assert any("Release R-12 is now in progress" in o.reply.text for o in started.outgoing)
    assert await _status(dialogue, "R-12") is ReleaseStatus.IN_PROGRESS
    await dialogue.say(f"complete {one} successful", expect=[f"{one}:status"])
    assert await _status(dialogue, "R-12") is ReleaseStatus.IN_PROGRESS
    await dialogue.say(f"implement {two}", expect=[f"{two}:status"])
    await dialogue.say(f"complete {two} failed, queue stuck", expect=[f"{two}:status"])
    assert await _status(dialogue, "R-12") is ReleaseStatus.FAILED
    shown = await dialogue.say("release R-12", who=BOB)
    assert "failed" in shown.text
    listed = await dialogue.say("release", who=BOB)
    assert "• R-12" in listed.text


async def test_a_change_outside_the_window_cannot_join(dialogue: Dialogue) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    await dialogue.say(f"schedule {ref} 2027-03-07 09:00 to 10:00")
    made = await dialogue.say("release R-3 for 2027-03-06 22:00 to 02:00", who=BOB)
    assert "I've created release R-3" in made.text
    turn = await dialogue.say(f"release R-3 add {ref}", who=BOB)
    assert f"{ref} runs Sun 07 Mar 09:00 to Sun 07 Mar 10:00 UTC, outside the release" in turn.text
    inverted = await dialogue.say("release R-4 for 2027-03-06 22:00 to 2027-03-05 02:00", who=BOB)
    assert "before it starts" in inverted.text
    unknown = await dialogue.say("release R-3 add CHG-99", who=BOB)
    assert "no change CHG-99" in unknown.text
    twice = await dialogue.say("release R-3 for 2027-03-06 22:00 to 23:00", who=BOB)
    assert "Release R-3 · Sat 06 Mar 22:00 to Sun 07 Mar 02:00 UTC · planned" in twice.text
    mine = await dialogue.seed(
        "Patch CRM", kind=TicketKind.CHANGE, service="CRM", status=Status.AWAITING_APPROVAL
    )
    await dialogue.say(f"release R-5 for 2027-03-06 22:00 to 23:00 with {mine}", who=CAROL)
    own = await dialogue.say("approve R-5", who=CAROL)
    assert "You created release R-5, so someone else has to decide it" in own.text
    rejected = await dialogue.say(
        "reject R-5 not during the audit", who=FRANK, expect=[f"{mine}:status"]
    )
    assert f"You rejected {mine}" in rejected.text
    assert await _status(dialogue, "R-5") is ReleaseStatus.REJECTED
    assert (await dialogue.ticket(mine)).status is Status.REJECTED


async def test_release_words_that_name_no_release_are_ordinary_messages(
    dialogue: Dialogue,
) -> None:
    # What the NLU makes of it answers: here, a change request.
    turn = await dialogue.say("release the new VPN client tomorrow 9am", who=BOB, expect=["+CHG-1"])
    assert "I've raised CHG-1" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        assert await uow.releases.listed() == []
