"""Agents and approvers at home in chat: assign, queues, holds, approvals, cancelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from store.enums import Priority, Status, TicketKind
from store.uow import UnitOfWork

from .conftest import Dialogue

BOB = "bob@example.com"
ERIN = "erin@example.com"
CAROL = "carol@example.com"
FRANK = "frank@example.com"


async def _queue(dialogue: Dialogue, ref: str, *, priority: Priority, due_hours: int) -> None:
    """Put a seeded ticket in the service desk's unassigned queue."""
    async with UnitOfWork(dialogue.factory) as uow:
        t = await uow.tickets.by_ref(ref)
        group = await uow.people.group("service-desk")
        assert t is not None
        assert group is not None
        t.group_id = group.id
        t.priority = priority
        t.resolve_due_at = datetime.now(UTC) + timedelta(hours=due_hours)
        await uow.commit()


async def _link(dialogue: Dialogue, email: str, platform: str, external_id: str) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        await uow.people.bind_identity(person, platform, external_id)
        await uow.commit()


async def test_agent_gives_a_ticket_to_another_agent_who_is_told(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(
        f"give {ref} to erin", who=BOB, expect=[f"{ref}:assignee", f"{ref}:status"]
    )
    assert "assigned to Erin" in turn.text
    t = await dialogue.ticket(ref)
    assert t.assignee is not None
    assert t.assignee.email == ERIN
    assert any(f"{ref} was assigned to you" in o.reply.text for o in turn.outgoing)
    async with UnitOfWork(dialogue.factory) as uow:
        events = [e.action for e in await uow.tickets.events(t.id)]
    assert "assigned" in events


async def test_assign_command_names_another_agent(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    await dialogue.say(
        f"assign {ref} to erin", who=BOB, expect=[f"{ref}:assignee", f"{ref}:status"]
    )
    assert (await dialogue.ticket(ref)).assignee.email == ERIN  # type: ignore[union-attr]


async def test_ticket_is_not_given_to_someone_who_is_not_an_agent(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(f"assign {ref} to dan", who=BOB)
    assert "not an agent" in turn.text
    assert (await dialogue.ticket(ref)).assignee is None


async def test_requester_taking_a_ticket_is_refused(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(f"I'll take {ref}")
    assert "Only agents" in turn.text


async def test_queue_lists_mine_and_unassigned_by_priority(dialogue: Dialogue) -> None:
    low = await dialogue.seed("Printer toner low")
    high = await dialogue.seed("Payroll is down")
    await _queue(dialogue, low, priority=Priority.P4, due_hours=2)
    await _queue(dialogue, high, priority=Priority.P1, due_hours=4)
    turn = await dialogue.say("what's in my queue", who=BOB)
    assert "Nothing is assigned to you" in turn.text
    assert "Unassigned in service-desk (2)" in turn.text
    assert turn.text.index(high) < turn.text.index(low)
    assert [b.value for b in turn.replies[0].buttons] == [high, low]


async def test_requester_has_no_queue(dialogue: Dialogue) -> None:
    turn = await dialogue.say("what's in my queue")
    assert "Queues are for agents" in turn.text


async def test_take_the_next_ticket_takes_the_most_urgent(dialogue: Dialogue) -> None:
    low = await dialogue.seed("Printer toner low")
    high = await dialogue.seed("Payroll is down")
    await _queue(dialogue, low, priority=Priority.P4, due_hours=2)
    await _queue(dialogue, high, priority=Priority.P1, due_hours=4)
    turn = await dialogue.say(
        "give me the next ticket", who=BOB, expect=[f"{high}:assignee", f"{high}:status"]
    )
    assert f"{high} is assigned to you" in turn.text


async def test_put_on_hold_with_reason_pauses_the_clock(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Laptop dock dead", service="VPN")
    turn = await dialogue.say(
        f"put {ref} on hold, waiting for the vendor", who=BOB, expect=[f"{ref}:status"]
    )
    assert "waiting for the vendor" in turn.text
    t = await dialogue.ticket(ref)
    assert t.status is Status.ON_HOLD
    async with UnitOfWork(dialogue.factory) as uow:
        [event] = [e for e in await uow.tickets.events(t.id) if e.action == "status"]
    assert event.detail["reason"] == "waiting for the vendor"
    assert event.detail["to"] == "on_hold"


async def test_put_on_hold_without_reason_asks_for_it(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Laptop dock dead")
    turn = await dialogue.say(f"put {ref} on hold", who=BOB)
    assert "waiting for" in turn.text
    assert dialogue.pending(BOB) == "reason"
    assert (await dialogue.ticket(ref)).status is Status.NEW


async def test_requester_cannot_put_on_hold(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Laptop dock dead")
    turn = await dialogue.say(f"put {ref} on hold, waiting for the vendor")
    assert "Only agents" in turn.text


async def test_pending_approvals_lists_changes_of_others(dialogue: Dialogue) -> None:
    mine = await dialogue.seed(
        "Carol's own change", who=CAROL, kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    other = await dialogue.seed(
        "Restart the mail server", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.say("what's waiting for my approval?", who=CAROL)
    assert other in turn.text
    assert mine not in turn.text
    actions = {(b.action, b.value) for r in turn.replies for b in r.buttons}
    assert ("approve", other) in actions
    assert ("reject", other) in actions


async def test_requester_cannot_approve_own_change(dialogue: Dialogue) -> None:
    change = await dialogue.seed(
        "Carol's own change", who=CAROL, kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.click("approve", change, who=CAROL)
    assert "someone else has to approve" in turn.text
    assert (await dialogue.ticket(change)).status is Status.AWAITING_APPROVAL


async def test_approvers_are_notified_on_their_own_channel(dialogue: Dialogue) -> None:
    await _link(dialogue, CAROL, "slack", "U0CAROL")
    turn = await dialogue.say("please restart the mail server on Saturday 22:00", expect=["+CHG-1"])
    personal = [o for o in turn.outgoing if o.address is not None]
    assert [(o.address.channel, o.address.conversation) for o in personal if o.address] == [
        ("slack", "U0CAROL")
    ]
    assert {b.action for b in personal[0].reply.buttons} == {"approve", "reject"}
    assert "I've told Carol Approver" in turn.text
    assert "couldn't reach Frank" in turn.text


async def test_approver_who_requests_is_not_asked(dialogue: Dialogue) -> None:
    await _link(dialogue, CAROL, "slack", "U0CAROL")
    await _link(dialogue, FRANK, "phone", "+14155550199")
    turn = await dialogue.say(
        "please restart the mail server on Saturday 22:00", who=CAROL, expect=["+CHG-1"]
    )
    personal = [o.address for o in turn.outgoing if o.address is not None]
    assert [(a.channel, a.conversation) for a in personal] == [("sms", "+14155550199")]
    assert "Carol" not in turn.text.split("I've told", 1)[1]


async def test_cancel_asks_first_then_cancels(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Need a headset", kind=TicketKind.REQUEST)
    turn = await dialogue.say(f"cancel {ref}, I don't need it anymore")
    assert f"Cancel {ref}" in turn.text
    assert (await dialogue.ticket(ref)).status is Status.NEW
    await dialogue.say("yes", expect=[f"{ref}:status"])
    assert (await dialogue.ticket(ref)).status is Status.CANCELLED


async def test_cancel_no_keeps_the_ticket(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Need a headset", kind=TicketKind.REQUEST)
    await dialogue.say(f"cancel {ref}")
    await dialogue.say("no")
    assert (await dialogue.ticket(ref)).status is Status.NEW


async def test_cannot_cancel_someone_elses_ticket(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Need a headset", who="dan@example.com", kind=TicketKind.REQUEST)
    turn = await dialogue.say(f"cancel {ref}")
    assert "couldn't find" in turn.text
    assert dialogue.pending() is None


async def test_the_reason_given_after_the_question_puts_it_on_hold(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Laptop dock dead")
    await dialogue.say(f"put {ref} on hold", who=BOB)
    turn = await dialogue.say(
        "waiting for the customer to reply", who=BOB, expect=[f"{ref}:status"]
    )
    assert "waiting for the customer to reply" in turn.text
    assert dialogue.pending(BOB) is None


async def test_give_to_a_group_moves_it_to_their_queue(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Server room too hot")
    turn = await dialogue.say(f"give {ref} to the infrastructure team", who=BOB)
    assert "infrastructure queue" in turn.text
    t = await dialogue.ticket(ref)
    assert t.group is not None
    assert t.group.name == "infrastructure"


async def test_chinese_take_and_give(dialogue: Dialogue) -> None:
    mine = await dialogue.seed("VPN drops from home")
    other = await dialogue.seed("Printer toner low")
    await dialogue.say(f"{mine}我来接", who=BOB, expect=[f"{mine}:assignee", f"{mine}:status"])
    await dialogue.say(
        f"把{other}交给erin处理", who=BOB, expect=[f"{other}:assignee", f"{other}:status"]
    )
    assert (await dialogue.ticket(mine)).assignee.email == BOB  # type: ignore[union-attr]
    assert (await dialogue.ticket(other)).assignee.email == ERIN  # type: ignore[union-attr]


async def test_chinese_hold_keeps_the_reason(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Laptop dock dead")
    turn = await dialogue.say(f"把{ref}挂起，等供应商回复", who=BOB, expect=[f"{ref}:status"])
    assert "等供应商回复" in turn.text


async def _on_whatsapp(dialogue: Dialogue, email: str, number: str) -> None:
    """The person last wrote to the bot on WhatsApp from `number`."""
    async with UnitOfWork(dialogue.factory) as uow:
        person = await uow.people.by_email(email)
        assert person is not None
        where = {"channel": "whatsapp", "conversation": number, "user": number}
        await uow.people.bind_identity(person, "phone", number, address=where)
        await uow.commit()


async def test_a_whatsapp_approver_gets_the_template_when_one_is_configured(
    dialogue: Dialogue,
) -> None:
    from bot.router import IntentRouter
    from handlers.registry import load

    dialogue.router = IntentRouter(load(), whatsapp_template=True)
    await _on_whatsapp(dialogue, FRANK, "+14155550199")
    turn = await dialogue.say("please restart the mail server on Saturday 22:00", expect=["+CHG-1"])
    personal = [o.address for o in turn.outgoing if o.address is not None]
    # The Twilio channel sends the approved template when the 24-hour window has closed.
    assert [(a.channel, a.conversation) for a in personal] == [("whatsapp", "+14155550199")]
    assert "I've told Frank" in turn.text


async def test_without_a_template_a_whatsapp_approver_is_texted_instead(
    dialogue: Dialogue,
) -> None:
    await _on_whatsapp(dialogue, FRANK, "+14155550199")
    turn = await dialogue.say("please restart the mail server on Saturday 22:00", expect=["+CHG-1"])
    personal = [o.address for o in turn.outgoing if o.address is not None]
    assert [(a.channel, a.conversation) for a in personal] == [("sms", "+14155550199")]
