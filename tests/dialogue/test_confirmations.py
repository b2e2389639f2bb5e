"""No state change on a guess: named or single targets, per-intent thresholds, Yes / No."""

from __future__ import annotations

from store.enums import Priority, Status, TicketKind
from store.uow import UnitOfWork

from .conftest import Dialogue


async def test_assign_to_me_is_an_assignment_not_an_escalation(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(
        f"assign {ref} to me", who="bob@example.com", expect=[f"{ref}:assignee", f"{ref}:status"]
    )
    assert "assigned to you" in turn.text
    t = await dialogue.ticket(ref)
    assert t.assignee is not None
    assert t.assignee.email == "bob@example.com"
    assert t.escalation_level == 0


async def test_requester_cannot_assign(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(f"assign {ref} to me")
    assert "Only agents" in turn.text


async def test_printer_jam_is_a_new_report_not_a_reopen_of_email(dialogue: Dialogue) -> None:
    email = await dialogue.seed("Outlook won't sync", service="Email", status=Status.RESOLVED)
    turn = await dialogue.say("the printer jammed again", expect=["+INC-2"])
    assert "INC-2" in turn.text
    assert (await dialogue.ticket(email)).status is Status.RESOLVED
    assert (await dialogue.ticket("INC-2")).service.name == "Printing"


async def test_broken_vpn_is_a_report_not_a_reopen(dialogue: Dialogue) -> None:
    await dialogue.seed("Outlook won't sync", service="Email", status=Status.RESOLVED)
    turn = await dialogue.say("my vpn is broken", expect=["+INC-2"])
    assert "INC-2" in turn.text
    assert "VPN" in turn.text


async def test_phone_number_update_is_not_a_silent_note(dialogue: Dialogue) -> None:
    await dialogue.seed("Access to the finance share", kind=TicketKind.REQUEST)
    turn = await dialogue.say("update my phone number to +14155550123")
    assert "?" in turn.text
    assert dialogue.pending() == "choice"


async def test_it_works_again_with_several_open_asks_which(dialogue: Dialogue) -> None:
    vpn = await dialogue.seed("VPN drops from home", service="VPN")
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    turn = await dialogue.say("it works again, thanks")
    assert "Which ticket" in turn.text
    assert vpn in turn.text
    assert mail in turn.text
    picked = await dialogue.say(vpn, expect=[f"{vpn}:status"])
    assert f"{vpn} is resolved" in picked.text
    assert (await dialogue.ticket(mail)).status is Status.NEW


async def test_it_works_again_with_one_open_ticket_resolves_it(dialogue: Dialogue) -> None:
    vpn = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say("it works again, thanks", expect=[f"{vpn}:status"])
    assert "resolved" in turn.text


async def test_service_named_picks_the_ticket(dialogue: Dialogue) -> None:
    vpn = await dialogue.seed("VPN drops from home", service="VPN")
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    await dialogue.say("the vpn works again, thanks", expect=[f"{vpn}:status"])
    assert (await dialogue.ticket(mail)).status is Status.NEW


async def test_unsure_reopen_asks_naming_the_ticket_and_yes_acts(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN", status=Status.RESOLVED)
    turn = await dialogue.say("the vpn is acting up again")
    assert f"Reopen {ref} 'VPN drops from home'?" in turn.text
    [question] = turn.replies
    assert [b.label for b in question.buttons] == ["Yes", "No"]
    await dialogue.say("yes", expect=[f"{ref}:status"])
    assert (await dialogue.ticket(ref)).status is Status.IN_PROGRESS


async def test_no_keeps_the_ticket(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN", status=Status.RESOLVED)
    await dialogue.say("the vpn is acting up again")
    turn = await dialogue.say("no")
    assert "left" in turn.text
    assert (await dialogue.ticket(ref)).status is Status.RESOLVED
    assert dialogue.pending() is None


async def test_laptop_is_not_yes(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN", status=Status.RESOLVED)
    await dialogue.say("the vpn is acting up again")
    await dialogue.say("laptop")
    assert (await dialogue.ticket(ref)).status is Status.RESOLVED


async def test_named_confident_resolve_acts(dialogue: Dialogue) -> None:
    await dialogue.seed("VPN drops from home", service="VPN")
    ref = await dialogue.seed("Outlook won't sync", service="Email")
    turn = await dialogue.say(f"resolve {ref}", expect=[f"{ref}:status"])
    assert f"{ref} is resolved" in turn.text


async def test_clicked_resolve_acts(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    await dialogue.click("resolve", ref, who="bob@example.com", expect=[f"{ref}:status"])


async def test_escalation_of_a_named_ticket(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("Outlook won't sync", service="Email")
    await dialogue.say(f"please escalate {ref}, it is urgent", expect=[f"{ref}:priority"])
    t = await dialogue.ticket(ref)
    assert t.escalation_level == 1
    assert t.priority is not Priority.P5


async def test_typed_number_answers_the_confirmation(dialogue: Dialogue) -> None:
    dialogue.channel = "sms"
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    turn = await dialogue.say("I think the email works again")
    assert f"Resolve {mail} 'Outlook won't sync'?" in turn.text
    await dialogue.say("1", expect=[f"{mail}:status"])
    assert (await dialogue.ticket(mail)).status is Status.RESOLVED


async def test_confirmation_expires_with_the_dialogue(dialogue: Dialogue) -> None:
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    await dialogue.say("I think the email works again")
    dialogue.states.clear()
    await dialogue.say("yes")
    assert (await dialogue.ticket(mail)).status is Status.NEW


async def test_confirmed_resolve_keeps_the_words_as_the_note(dialogue: Dialogue) -> None:
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    await dialogue.say("I think the email works again")
    await dialogue.say("yes", expect=[f"{mail}:status"])
    async with UnitOfWork(dialogue.factory) as uow:
        t = await uow.tickets.by_ref(mail)
        assert t is not None
        [resolved] = [e for e in await uow.tickets.events(t.id) if e.action == "resolved"]
    assert resolved.detail["note"] == "I think the email works again"


async def test_chinese_named_resolve_acts(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say(f"{ref} 已经好了，谢谢", expect=[f"{ref}:status"])
    assert ref in turn.text


async def test_chinese_unsure_resolve_asks_and_chinese_yes_acts(dialogue: Dialogue) -> None:
    ref = await dialogue.seed("VPN drops from home", service="VPN")
    turn = await dialogue.say("VPN又好了，谢谢")
    assert f"要把 {ref}“VPN drops from home”标记为已解决吗？" in turn.text
    assert [b.label for b in turn.replies[0].buttons] == ["是", "否"]
    await dialogue.say("是的", expect=[f"{ref}:status"])


async def test_hesitant_approval_is_confirmed_first(dialogue: Dialogue) -> None:
    change = await dialogue.seed(
        "Restart the mail server", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.say(f"{change} looks fine I guess", who="carol@example.com")
    assert f"Approve {change} 'Restart the mail server'?" in turn.text
    await dialogue.say("yes", who="carol@example.com", expect=[f"{change}:status"])
    assert (await dialogue.ticket(change)).status is Status.APPROVED


async def test_clear_rejection_acts_at_once(dialogue: Dialogue) -> None:
    change = await dialogue.seed(
        "Restart the mail server", kind=TicketKind.CHANGE, status=Status.AWAITING_APPROVAL
    )
    await dialogue.say(
        f"reject {change}, not during quarter close",
        who="carol@example.com",
        expect=[f"{change}:status"],
    )
    assert (await dialogue.ticket(change)).status is Status.REJECTED


async def test_note_with_two_open_tickets_asks_which_and_keeps_the_words(
    dialogue: Dialogue,
) -> None:
    vpn = await dialogue.seed("VPN drops from home", service="VPN")
    mail = await dialogue.seed("Outlook won't sync", service="Email")
    turn = await dialogue.say("add that it happens every morning")
    assert "Which ticket should I add this to?" in turn.text
    await dialogue.say(mail)
    async with UnitOfWork(dialogue.factory) as uow:
        t = await uow.tickets.by_ref(mail)
        assert t is not None
        notes = [e.detail["text"] for e in await uow.tickets.events(t.id) if e.action == "note"]
    assert notes == ["add that it happens every morning"]
    assert (await dialogue.ticket(vpn)).status is Status.NEW


async def test_none_of_these_changes_nothing(dialogue: Dialogue) -> None:
    await dialogue.seed("VPN drops from home", service="VPN")
    await dialogue.seed("Outlook won't sync", service="Email")
    await dialogue.say("it works again, thanks")
    turn = await dialogue.say("None of these")
    assert "left everything as it is" in turn.text
