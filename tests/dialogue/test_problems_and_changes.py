"""Problems, impact and the change steps in chat; known errors and recurring incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.conversation import Address
from handlers import problems
from handlers.change_steps import asks_calendar, weekend
from handlers.cmdb import CiSpec, save
from handlers.context import HandlerContext
from store.enums import ChangeType, Status, TicketKind
from store.problems import ProblemStage
from store.uow import UnitOfWork

from .conftest import Dialogue


async def test_an_agent_opens_a_problem_over_incidents(dialogue: Dialogue) -> None:
    one = await dialogue.seed("printer offline on floor 3", service="Printing")
    two = await dialogue.seed("printer offline again", service="Printing")
    refused = await dialogue.say(f"open a problem for {one} and {two}")
    assert "Only agents" in refused.text
    turn = await dialogue.say(
        f"open a problem for {one} and {two}", who="bob@example.com", expect=["+PRB-1"]
    )
    assert f"PRB-1 on Printing with {one}, {two} linked" in turn.text
    missing = await dialogue.say("open a problem for INC-999", who="bob@example.com")
    assert "can't find INC-999" in missing.text


async def test_what_breaks_if_an_item_goes_down(dialogue: Dialogue) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        await save(uow, "payroll-db", CiSpec(type="database"), actor=None)
        for name in ("Payroll", "CRM"):
            svc = await uow.cmdb.by_name(name)
            assert svc is not None
            await save(
                uow,
                name,
                CiSpec(criticality=svc.criticality, depends_on=("payroll-db",)),
                actor=None,
            )
        await uow.commit()
    turn = await dialogue.say("what breaks if payroll-db goes down?", who="bob@example.com")
    assert "If payroll-db goes down, 2 services are affected" in turn.text
    assert "• Payroll (critical)" in turn.text
    assert "• CRM (high)" in turn.text
    leaf = await dialogue.say("what breaks if Intranet goes down", who="bob@example.com")
    assert "Nothing depends on Intranet" in leaf.text
    unknown = await dialogue.say("what breaks if the moon goes down", who="bob@example.com")
    assert "Which configuration item?" in unknown.text


async def test_a_change_is_scheduled_implemented_completed_and_closed_in_chat(
    dialogue: Dialogue,
) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    early = await dialogue.say(f"implement {ref}")
    assert "Allowed: schedule" in early.text
    turn = await dialogue.say(f"schedule {ref} 2027-03-06 22:00 to 2027-03-07 02:00")
    assert f"{ref} is scheduled from Sat 06 Mar 22:00 to Sun 07 Mar 02:00 UTC" in turn.text
    # Payroll is critical: a normal change to it is of very high risk, recorded in its history.
    assert "Risk: very high." in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        chg = await uow.tickets.by_ref(ref)
        assert chg is not None
        events = await uow.tickets.events(chg.id)
    assert any(e.action == "scheduled" and e.detail.get("risk") == "very high" for e in events)
    assert [b.action for b in turn.replies[0].buttons] == ["change_start"]
    started = await dialogue.click("change_start", ref, expect=[f"{ref}:status"])
    assert "being implemented" in started.text
    assert (await dialogue.ticket(ref)).status is Status.IN_PROGRESS
    done = await dialogue.say(
        f"complete {ref} backed out, the patch broke logins", expect=[f"{ref}:status"]
    )
    assert "complete: backed out" in done.text
    assert "post-implementation review" in done.text
    # The review is opened as work of its own: recorded, and put to the approvals channel.
    due = [o for o in done.outgoing if o.topic == "approvals"]
    assert due
    assert f"A post-implementation review of {ref} (backed out) is due" in due[0].reply.text
    assert [b.action for b in due[0].reply.buttons] == ["change_close"]
    closed = await dialogue.click("change_close", ref, expect=[f"{ref}:status"])
    assert f"{ref} is closed" in closed.text
    async with UnitOfWork(dialogue.factory) as uow:
        chg = await uow.tickets.by_ref(ref)
        assert chg is not None
        actions = [e.action for e in await uow.tickets.events(chg.id)]
    assert actions.index("review_opened") < actions.index("review_closed")
    again = await dialogue.say(f"schedule {ref} 2027-03-13 22:00 to 2027-03-14 02:00")
    assert "it is closed" in again.text


async def test_an_unapproved_change_cannot_be_scheduled(dialogue: Dialogue) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.AWAITING_APPROVAL
    )
    turn = await dialogue.say(f"schedule {ref} 2027-03-06 22:00 to 2027-03-07 02:00")
    assert "once it is approved" in turn.text


def _ctx(uow: UnitOfWork, person: object) -> HandlerContext:
    return HandlerContext(
        uow=uow,
        person=person,  # type: ignore[arg-type]
        address=Address(channel="console", conversation="x", user="x"),
        now=datetime.now(UTC),
    )


async def test_a_known_error_answers_a_new_report_with_its_workaround(dialogue: Dialogue) -> None:
    one = await dialogue.seed("printer offline", service="Printing")
    await dialogue.say(f"open a problem for {one}", who="bob@example.com", expect=["+PRB-1"])
    async with UnitOfWork(dialogue.factory) as uow:
        bob = await uow.people.by_email("bob@example.com")
        prb = await uow.tickets.by_ref("PRB-1")
        assert prb is not None
        ctx = _ctx(uow, bob)
        await problems.update_problem(
            ctx,
            prb,
            problems.Update(
                stage=ProblemStage.KNOWN_ERROR,
                workaround="Power-cycle the printer",
                symptoms=("printer offline",),
            ),
        )
        await uow.commit()
    other = await dialogue.seed(
        "the printer in room 4 is offline", service="Printing", who="dan@example.com"
    )
    jam = await dialogue.seed("printer jammed", service="Printing", who="dan@example.com")
    async with UnitOfWork(dialogue.factory) as uow:
        dan = await uow.people.by_email("dan@example.com")
        ctx = _ctx(uow, dan)
        for ref, expected in ((other, True), (jam, False)):
            incident = await uow.tickets.by_ref(ref)
            assert incident is not None
            said = await problems.on_new_incident(ctx, incident)
            assert ("Workaround: Power-cycle the printer" in said) is expected
        prb = await uow.tickets.by_ref("PRB-1")
        assert prb is not None
        assert [t.ref for t in await uow.problems.incidents(prb)] == [one, other]
        # Resolving the problem tells every linked open incident's requester.
        await problems.update_problem(
            _ctx(uow, await uow.people.by_email("bob@example.com")),
            prb,
            problems.Update(stage=ProblemStage.RESOLVED),
        )
        assert prb.status is Status.RESOLVED
        await uow.commit()


async def test_recurring_incidents_are_offered_once_to_the_owner_group(dialogue: Dialogue) -> None:
    refs = [
        await dialogue.seed("VPN drops every hour", service="VPN", who=who)
        for who in ("alice@example.com", "dan@example.com", "alice@example.com")
    ]
    async with UnitOfWork(dialogue.factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        erin = await uow.people.by_email("erin@example.com")
        assert erin is not None
        vpn = await uow.cmdb.by_name("VPN")
        assert vpn is not None
        ctx = _ctx(uow, alice)
        found = await problems.offer_recurring(ctx, vpn.id)
        assert found == refs
        told = {o.person_id for o in ctx.outgoing}
        assert erin.id in told  # erin is in infrastructure, VPN's owner group
        [button] = ctx.outgoing[0].reply.buttons
        assert await problems.offer_recurring(ctx, vpn.id) == []
        await uow.commit()
    turn = await dialogue.click(
        button.action, button.value, who="erin@example.com", expect=["+PRB-1"]
    )
    assert f"PRB-1 with {', '.join(refs)} linked" in turn.text
    twice = await dialogue.click(button.action, button.value, who="erin@example.com")
    assert "already opened" in twice.text
    nobody = await dialogue.click(button.action, button.value, who="alice@example.com")
    assert "Only agents" in nobody.text


async def test_a_standard_change_is_approved_on_creation(dialogue: Dialogue) -> None:
    from store.changes import StandardChange

    async with UnitOfWork(dialogue.factory) as uow:
        uow.session.add(
            StandardChange(name="Restart mail relay", services=["Email"], duration="30m")
        )
        await uow.commit()
    unknown = await dialogue.say("standard Reboot the moon 2027-03-06 22:00")
    assert "The catalog: Restart mail relay" in unknown.text
    turn = await dialogue.say("standard Restart mail relay 2027-03-06 22:00", expect=["+CHG-1"])
    assert "standard change, approved on creation" in turn.text
    chg = await dialogue.ticket("CHG-1")
    assert chg.change_type is ChangeType.STANDARD
    assert chg.status is Status.APPROVED
    assert chg.planned_end is not None
    assert chg.planned_start is not None
    assert (chg.planned_end - chg.planned_start).total_seconds() == 1800


async def test_command_words_without_a_change_are_ordinary_messages(dialogue: Dialogue) -> None:
    turn = await dialogue.say("complete list of what you can do")
    # The change steps would ask "Which change? For example ..."; another handler answered.
    assert "Which change" not in turn.text
    assert turn.text


async def test_planned_changes_are_listed(dialogue: Dialogue) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    await dialogue.say(f"schedule {ref} 2027-03-06 22:00 to 2027-03-07 02:00")
    turn = await dialogue.say("planned 2027-03-06 00:00 to 2027-03-08 00:00")
    assert f"• {ref} · Patch payroll · Sat 06 Mar 22:00–02:00" in turn.text
    empty = await dialogue.say("planned 2027-04-06 00:00 to 2027-04-08 00:00")
    assert "Nothing is planned" in empty.text


async def test_an_agent_records_a_workaround_in_chat(dialogue: Dialogue) -> None:
    one = await dialogue.seed("printer offline", service="Printing")
    await dialogue.say(f"open a problem for {one}", who="bob@example.com", expect=["+PRB-1"])
    refused = await dialogue.say("workaround PRB-1 power-cycle it")
    assert "only agents" in refused.text
    turn = await dialogue.say(
        "workaround PRB-1 power-cycle the printer; symptoms: printer offline, spooler crash",
        who="bob@example.com",
        expect=["PRB-1:status"],
    )
    assert "PRB-1 is a known error. Workaround: power-cycle the printer." in turn.text
    assert "printer offline, spooler crash" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        prb = await uow.tickets.by_ref("PRB-1")
        assert prb is not None
        record = await uow.problems.record(prb)
        assert record.stage is ProblemStage.KNOWN_ERROR
        assert record.symptoms == ["printer offline", "spooler crash"]
    again = await dialogue.say("workaround PRB-1 something else", who="bob@example.com")
    assert "known error" in again.text


async def test_a_successful_change_resolves_the_problem_it_names(dialogue: Dialogue) -> None:
    one = await dialogue.seed("printer offline", service="Printing")
    await dialogue.say(f"open a problem for {one}", who="bob@example.com", expect=["+PRB-1"])
    await dialogue.say(
        "workaround PRB-1 power-cycle it", who="bob@example.com", expect=["PRB-1:status"]
    )
    ref = await dialogue.seed(
        "Replace printer firmware for PRB-1",
        kind=TicketKind.CHANGE,
        service="Printing",
        status=Status.APPROVED,
    )
    await dialogue.say(f"schedule {ref} 2027-03-06 22:00 to 2027-03-06 23:00")
    await dialogue.say(f"implement {ref}", expect=[f"{ref}:status"])
    done = await dialogue.say(
        f"complete {ref} successful", expect=[f"{ref}:status", "PRB-1:status"]
    )
    assert "PRB-1 is resolved by it" in done.text
    assert (await dialogue.ticket("PRB-1")).status is Status.RESOLVED
    async with UnitOfWork(dialogue.factory) as uow:
        prb = await uow.tickets.by_ref("PRB-1")
        assert prb is not None
        assert (await uow.problems.record(prb)).stage is ProblemStage.RESOLVED


async def test_a_completed_change_is_closed_by_typing_close(dialogue: Dialogue) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    early = await dialogue.say(f"close {ref}")
    assert f"{ref} is planned; it cannot close now" in early.text
    await dialogue.say(f"schedule {ref} 2027-03-06 22:00 to 2027-03-07 02:00")
    await dialogue.say(f"implement {ref}", expect=[f"{ref}:status"])
    await dialogue.say(f"complete {ref} successful", expect=[f"{ref}:status"])
    stranger = await dialogue.say(f"close {ref}", who="dan@example.com")
    # Another requester may not even see the change.
    assert f"couldn't find {ref}" in stranger.text
    closed = await dialogue.say(f"close {ref}", who="bob@example.com", expect=[f"{ref}:status"])
    assert f"{ref} is closed" in closed.text
    assert (await dialogue.ticket(ref)).status is Status.CLOSED


async def test_close_that_names_no_change_is_an_ordinary_message(dialogue: Dialogue) -> None:
    inc = await dialogue.seed("printer offline", service="Printing")
    chg = await dialogue.seed(
        "Patch printing", kind=TicketKind.CHANGE, service="Printing", status=Status.APPROVED
    )
    plain = await dialogue.say("close the ticket please")
    # The router's normal handling answers (which ticket to resolve), not the change step.
    assert plain.routed.intent != "close"
    assert "cannot close now" not in plain.text
    assert plain.text
    named = await dialogue.say(f"close {inc}, it was fixed by {chg}", expect=[f"{inc}:status"])
    assert named.routed.intent != "close"
    assert "cannot close now" not in named.text
    assert (await dialogue.ticket(chg)).status is Status.APPROVED


async def test_what_changes_are_planned_this_weekend(dialogue: Dialogue) -> None:
    saturday, _ = weekend(datetime.now(UTC))
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    later = await dialogue.seed(
        "Patch CRM", kind=TicketKind.CHANGE, service="CRM", status=Status.APPROVED
    )
    await dialogue.say(f"schedule {ref} {saturday:%Y-%m-%d} 22:00 to 23:00")
    await dialogue.say(f"schedule {later} {saturday + timedelta(days=7):%Y-%m-%d} 22:00 to 23:00")
    turn = await dialogue.say("What changes are planned this weekend?", who="bob@example.com")
    assert f"Planned from {saturday:%a %d %b} 00:00" in turn.text
    assert f"{ref} · Patch payroll" in turn.text
    assert later not in turn.text
    following = await dialogue.say("which changes are scheduled next weekend?")
    assert later in following.text
    assert f"{ref} ·" not in following.text


def test_this_weekend_is_the_coming_one_or_the_one_under_way() -> None:
    friday = datetime(2027, 3, 5, 15, 0, tzinfo=UTC)
    assert weekend(friday) == (
        datetime(2027, 3, 6, tzinfo=UTC),
        datetime(2027, 3, 8, tzinfo=UTC),
    )
    assert weekend(datetime(2027, 3, 6, 9, 0, tzinfo=UTC))[0] == datetime(2027, 3, 6, tzinfo=UTC)
    assert weekend(datetime(2027, 3, 7, 23, 0, tzinfo=UTC))[0] == datetime(2027, 3, 6, tzinfo=UTC)
    assert weekend(friday, following=True)[0] == datetime(2027, 3, 13, tzinfo=UTC)
    assert asks_calendar("what changes are planned this weekend?")
    assert not asks_calendar("what changes are planned for CHG-4?")
    assert not asks_calendar("I planned changes to my profile")


async def test_recurring_reports_become_a_known_error_that_answers_the_next_reporter(
    dialogue: Dialogue,
) -> None:
    """The whole of problem control in chat: reports, the offer, the workaround, the answer."""
    first = await dialogue.say("VPN connection drops every hour", expect=["+INC-1"])
    assert "INC-1" in first.text
    await dialogue.say(
        "our VPN connection drops every hour", who="dan@example.com", expect=["+INC-2"]
    )
    third = await dialogue.say("my VPN connection drops every hour", expect=["+INC-3"])
    offers = [o for o in third.outgoing if o.reply.buttons]
    assert offers, third.outgoing
    [button] = offers[0].reply.buttons
    assert "INC-1" in offers[0].reply.text
    taken = await dialogue.click(
        button.action, button.value, who="erin@example.com", expect=["+PRB-1"]
    )
    assert "PRB-1" in taken.text
    known = await dialogue.say(
        "workaround PRB-1 connect through the backup gateway; symptoms: vpn drops",
        who="erin@example.com",
        expect=["PRB-1:status"],
    )
    assert "PRB-1 is a known error" in known.text
    answered = await dialogue.say(
        "my VPN connection drops every few minutes", who="carol@example.com", expect=["+INC-4"]
    )
    assert "Workaround: connect through the backup gateway" in answered.text


async def test_the_recurrence_offer_is_accepted_by_replying(dialogue: Dialogue) -> None:
    for n, who in enumerate(("alice@example.com", "dan@example.com", "alice@example.com")):
        turn = await dialogue.say(
            "VPN connection drops every hour", who=who, expect=[f"+INC-{n + 1}"]
        )
    [offer] = [o.reply.text for o in turn.outgoing if o.reply.buttons]
    reply = offer.split('reply "')[1].rstrip('".')
    assert reply == "open a problem for INC-1, INC-2, INC-3"
    taken = await dialogue.say(reply, who="erin@example.com", expect=["+PRB-1"])
    assert "INC-1, INC-2, INC-3 linked" in taken.text
    # Linked now, the cluster is not offered again by the next report.
    again = await dialogue.say("VPN connection drops every hour", expect=["+INC-4"])
    assert not [o for o in again.outgoing if o.reply.buttons]


async def test_a_back_out_plan_is_recorded_when_scheduling(dialogue: Dialogue) -> None:
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.APPROVED
    )
    turn = await dialogue.say(
        f"schedule {ref} 2027-03-06 22:00 to 23:00; back-out: restore the 2027-03-06 snapshot"
    )
    assert f"{ref} is scheduled from Sat 06 Mar 22:00 to Sat 06 Mar 23:00 UTC" in turn.text
    assert "Back-out plan: restore the 2027-03-06 snapshot" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        chg = await uow.tickets.by_ref(ref)
        assert chg is not None
        plan = await uow.changes.plan(chg)
        assert plan.backout_plan == "restore the 2027-03-06 snapshot"


async def test_a_change_records_the_incidents_and_problem_it_fixes(dialogue: Dialogue) -> None:
    inc = await dialogue.seed("payroll export fails", service="Payroll", who="dan@example.com")
    other = await dialogue.seed("vpn down", service="VPN")
    turn = await dialogue.say(
        f"please restart the payroll server on Saturday 22:00 to fix {inc} and {other}",
        who="dan@example.com",
        expect=["+CHG-1"],
    )
    # Dan sees his own incident; Alice's is not his to know about.
    assert f"It fixes {inc}." in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        chg = await uow.tickets.by_ref("CHG-1")
        assert chg is not None
        [created] = [e for e in await uow.tickets.events(chg.id) if e.action == "created"]
    assert created.detail.get("fixes") == [inc]
