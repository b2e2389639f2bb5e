"""Report first, ask after; customers are never asked for our system names; priorities."""

from __future__ import annotations

from store.enums import Priority, Status
from store.uow import UnitOfWork

from .conftest import Dialogue

CUSTOMER = "casey@shop.example"


async def test_customer_outage_report_is_logged_without_questions(dialogue: Dialogue) -> None:
    dialogue.channel = "whatsapp"
    await dialogue.customer(CUSTOMER)
    turn = await dialogue.say(
        "the checkout page shows a 500 error when I pay", who=CUSTOMER, expect=["+INC-1"]
    )
    assert "INC-1" in turn.text
    assert "system" not in turn.text
    assert dialogue.pending(CUSTOMER) is None
    assert (await dialogue.ticket("INC-1")).service is None


async def test_person_of_an_organisation_is_not_asked_either(dialogue: Dialogue) -> None:
    await dialogue.customer(CUSTOMER, organisation="Shop Example Ltd")
    turn = await dialogue.say("my screen is flickering", who=CUSTOMER, expect=["+INC-1"])
    assert "system" not in turn.text
    assert dialogue.pending(CUSTOMER) is None


async def test_employee_unknown_service_is_logged_then_asked(dialogue: Dialogue) -> None:
    turn = await dialogue.say("my screen is flickering", expect=["+INC-1"])
    assert turn.text.startswith("I've logged INC-1")
    assert dialogue.pending() == "service"


async def test_known_service_is_not_asked(dialogue: Dialogue) -> None:
    turn = await dialogue.say("Outlook stopped working", expect=["+INC-1"])
    assert "for Email" in turn.text
    assert dialogue.pending() is None


async def test_answer_moves_the_ticket_to_the_service_and_its_priority(
    dialogue: Dialogue,
) -> None:
    await dialogue.say("nothing loads for the whole team", expect=["+INC-1"])
    before = (await dialogue.ticket("INC-1")).priority
    await dialogue.say("payroll", expect=["INC-1:priority"])
    t = await dialogue.ticket("INC-1")
    assert t.service is not None
    assert t.service.name == "Payroll"
    assert before is Priority.P3
    assert t.priority is Priority.P2
    async with UnitOfWork(dialogue.factory) as uow:
        events = await uow.tickets.events(t.id)
    assert [e.action for e in events if e.action == "service"] == ["service"]


async def test_one_persons_urgent_vpn_trouble_is_p3(dialogue: Dialogue) -> None:
    await dialogue.say("VPN keeps disconnecting, urgent", expect=["+INC-1"])
    assert (await dialogue.ticket("INC-1")).priority is Priority.P3


async def test_company_wide_payroll_outage_on_pay_day_is_p1(dialogue: Dialogue) -> None:
    await dialogue.say(
        "payroll is down for the whole company and salaries must go out today",
        expect=["+INC-1"],
    )
    assert (await dialogue.ticket("INC-1")).priority is Priority.P1


async def test_one_persons_slow_outlook_is_p4(dialogue: Dialogue) -> None:
    await dialogue.say("Outlook is a bit slow for me", expect=["+INC-1"])
    assert (await dialogue.ticket("INC-1")).priority is Priority.P4


async def test_whole_office_vpn_outage_is_p1(dialogue: Dialogue) -> None:
    await dialogue.say("The VPN is down for the whole office, nobody can work!!", expect=["+INC-1"])
    assert (await dialogue.ticket("INC-1")).priority is Priority.P1


async def test_chinese_urgent_vpn_trouble_is_p3(dialogue: Dialogue) -> None:
    await dialogue.say("我的VPN一直断线，很急", expect=["+INC-1"])
    t = await dialogue.ticket("INC-1")
    assert t.priority is Priority.P3
    assert t.service is not None
    assert t.service.name == "VPN"


async def test_agent_overrides_priority_with_a_reason(dialogue: Dialogue) -> None:
    await dialogue.say("Outlook is a bit slow for me", expect=["+INC-1"])
    turn = await dialogue.say(
        "priority INC-1 P2 because the CFO presents from it at noon",
        who="bob@example.com",
        expect=["INC-1:priority"],
    )
    assert "INC-1 is now P2 (was P4)" in turn.text
    t = await dialogue.ticket("INC-1")
    async with UnitOfWork(dialogue.factory) as uow:
        [event] = [e for e in await uow.tickets.events(t.id) if e.action == "priority"]
    assert event.detail["reason"] == "the CFO presents from it at noon"
    assert event.detail["to"] == "P2"


async def test_override_without_a_reason_asks_why(dialogue: Dialogue) -> None:
    await dialogue.say("Outlook is a bit slow for me", expect=["+INC-1"])
    turn = await dialogue.say("priority INC-1 P1", who="bob@example.com")
    assert "Why should INC-1 be P1?" in turn.text


async def test_requester_cannot_override_priority(dialogue: Dialogue) -> None:
    await dialogue.say("Outlook is a bit slow for me", expect=["+INC-1"])
    turn = await dialogue.say("priority INC-1 P1 because I say so")
    assert "Only agents" in turn.text
    assert (await dialogue.ticket("INC-1")).status is Status.NEW


async def test_a_part_takes_its_impact_from_the_services_that_depend_on_it(
    dialogue: Dialogue,
) -> None:
    from store.models import ServiceLink

    await dialogue.say("the printers are down", expect=["+INC-1"])
    alone = (await dialogue.ticket("INC-1")).priority
    async with UnitOfWork(dialogue.factory) as uow:
        printing = await uow.services.by_name("Printing")
        payroll = await uow.services.by_name("Payroll")
        assert printing is not None
        assert payroll is not None
        printing.type = "server"
        uow.session.add(
            ServiceLink(service_id=payroll.id, target_id=printing.id, relation="depends_on")
        )
        await uow.commit()
    turn = await dialogue.say("the printers are down", who="bob@example.com", expect=["+INC-2"])
    assert "Payroll depends on Printing" in turn.text
    linked = (await dialogue.ticket("INC-2")).priority
    assert alone is not None
    assert linked is not None
    assert linked.value < alone.value, (alone, linked)


async def test_a_requester_is_not_told_of_an_internal_note(dialogue: Dialogue) -> None:
    from store.models import TicketEvent

    ref = await dialogue.seed("VPN drops from home")
    async with UnitOfWork(dialogue.factory) as uow:
        ticket = await uow.tickets.by_ref(ref)
        bob = await uow.people.by_email("bob@example.com")
        assert ticket is not None
        assert bob is not None
        uow.session.add(
            TicketEvent(
                ticket_id=ticket.id,
                actor_id=bob.id,
                action="note",
                detail={"text": "probably the user's router", "internal": True},
            )
        )
        await uow.commit()
    mine = await dialogue.say(f"what is the status of {ref}?")
    assert "note" not in mine.text
    desk = await dialogue.say(f"what is the status of {ref}?", who="bob@example.com")
    assert "note added by Bob" in desk.text
