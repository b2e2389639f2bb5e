"""Approval chains with a quorum per step, and fulfilment tasks in order or in parallel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.desk.apply import apply
from bot.desk.files import read
from channels.conversation import Address
from handlers import console as actions
from handlers.agent import Update, update_ticket
from handlers.context import HandlerContext
from handlers.errors import HandlerError
from handlers.suppliers import hand_off
from store.enums import Decision, Status
from store.models import Supplier, Ticket
from store.uow import UnitOfWork

from .conftest import Dialogue, Sent
from .test_catalog import person_id

CATALOG = """
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: security, members: [frank@example.com, carol@example.com]}
configuration_items:
  - {name: payroll-db, criticality: high, owner_group: security}
catalog:
  - name: Database access
    aliases: [database access]
    fields: [{name: database, label: Which database}]
    approvals:
      - manager
      - {by: group, group: security, quorum: 2}
    fulfilment:
      group: hardware
      tasks:
        - {name: Create the account, group: hardware}
        - {name: Send the credentials, group: infrastructure}
  - name: Reporting access
    aliases: [reporting access]
    fields: [{name: system, label: Which system}]
    approvals: [{by: ci_owner, field: system}]
    fulfilment:
      group: hardware
      order: parallel
      tasks:
        - {name: Grant the report, group: hardware}
        - {name: Add to the mailing, group: infrastructure}
  - name: Mailbox delegation
    aliases: [mailbox delegation]
    fields:
      - {name: delegate, label: Who should read it, type: person}
      - {name: system, label: Which system, type: ci}
    approvals: [{by: ci_owner, field: system}]
    fulfilment: {group: hardware}
"""


@pytest.fixture
async def shop(dialogue: Dialogue, tmp_path: Path) -> Dialogue:
    path = tmp_path / "catalog.yml"
    path.write_text(CATALOG, "utf-8")
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        alice = await uow.people.by_email("alice@example.com")
        dan = await uow.people.by_email("dan@example.com")
        assert alice is not None
        assert dan is not None
        alice.manager_id = dan.id
        await uow.commit()
    return dialogue


async def tasks(d: Dialogue, ref: str) -> list[tuple[str, str]]:
    async with UnitOfWork(d.factory) as uow:
        t = await uow.tickets.by_ref(ref)
        assert t is not None
        return [(x.name, x.status) for x in await uow.catalog.tasks(t.id)]


async def test_manager_then_two_of_security_then_two_tasks_in_order(
    shop: Dialogue, sent: Sent
) -> None:
    await shop.say("I need database access")
    turn = await shop.say("payroll")
    assert "It needs approval by your manager, then 2 of the security group." in turn.text
    await shop.say("yes", expect=["+REQ-1"])
    dan, frank, carol = [
        await person_id(shop, f"{n}@example.com") for n in ("dan", "frank", "carol")
    ]
    bob, erin = [await person_id(shop, f"{n}@example.com") for n in ("bob", "erin")]
    assert [to for to, _ in sent] == [dan]
    assert "(approval 1 of 2)" in sent[0][1].text
    sent.clear()

    # The second step's approvers cannot decide before their step.
    turn = await shop.click("approve_request", "REQ-1", who="frank@example.com")
    assert "Only Dan Requester can decide REQ-1." in turn.text

    turn = await shop.click("approve_request", "REQ-1", who="dan@example.com")
    assert "it goes on to 2 of the security group" in turn.text
    assert (await shop.ticket("REQ-1")).status is Status.AWAITING_APPROVAL
    assert sorted(to or 0 for to, _ in sent) == sorted(
        [frank, carol, await person_id(shop, "alice@example.com")]
    )
    assert all("(approval 2 of 2)" in r.text for to, r in sent if to in (frank, carol))
    sent.clear()

    turn = await shop.click("approve_request", "REQ-1", who="dan@example.com")
    assert "Only Carol Approver, Frank Approver can decide REQ-1." in turn.text

    turn = await shop.click("approve_request", "REQ-1", who="frank@example.com")
    assert "1 more approval(s) are needed" in turn.text
    turn = await shop.click("approve_request", "REQ-1", who="frank@example.com")
    assert "already decided" in turn.text
    assert (await shop.ticket("REQ-1")).status is Status.AWAITING_APPROVAL

    await shop.click("approve_request", "REQ-1", who="carol@example.com", expect=["REQ-1:status"])
    assert (await shop.ticket("REQ-1")).status is Status.NEW
    assert await tasks(shop, "REQ-1") == [
        ("Create the account", "open"),
        ("Send the credentials", "waiting"),
    ]
    [asked] = [r for to, r in sent if to == bob]
    assert "Task REQ-1/1" in asked.text
    assert [(b.action, b.value) for b in asked.buttons] == [("complete_task", "REQ-1/1")]
    sent.clear()

    # Roles: the requester, an agent outside the group, a task not yet open.
    turn = await shop.click("complete_task", "REQ-1/1")
    assert "Only agents of hardware can complete REQ-1/1." in turn.text
    turn = await shop.click("complete_task", "REQ-1/1", who="erin@example.com")
    assert "Only agents of hardware can complete REQ-1/1." in turn.text
    turn = await shop.click("complete_task", "REQ-1/2", who="erin@example.com")
    assert "REQ-1/2 is waiting for an earlier task." in turn.text
    turn = await shop.click("complete_task", "REQ-1/9", who="erin@example.com")
    assert "couldn't find REQ-1/9" in turn.text

    turn = await shop.click(
        "complete_task", "REQ-1/1", who="bob@example.com", expect=["REQ-1:status"]
    )
    assert (
        "Bob Agent completed REQ-1/1 (Create the account). 1 task(s) left. Next: task REQ-1/2: Send the credentials."
        in turn.text
    )
    assert (await shop.ticket("REQ-1")).status is Status.IN_PROGRESS
    assert [to for to, _ in sent] == [erin]
    sent.clear()

    turn = await shop.click(
        "complete_task", "REQ-1/2", who="erin@example.com", expect=["REQ-1:status"]
    )
    assert "REQ-1 is resolved" in turn.text
    assert (await shop.ticket("REQ-1")).status is Status.RESOLVED
    [(to, told)] = sent
    assert to == await person_id(shop, "alice@example.com")
    assert told.text.startswith("REQ-1 is done: Create the account, Send the credentials.")

    turn = await shop.click("complete_task", "REQ-1/2", who="erin@example.com")
    assert "REQ-1/2 is done." in turn.text


async def test_the_owners_of_the_named_ci_approve_and_parallel_tasks_open_together(
    shop: Dialogue, sent: Sent
) -> None:
    await shop.say("I need reporting access")
    turn = await shop.say("payroll-db")
    assert "the owners of the system you name" in turn.text
    await shop.say("yes", expect=["+REQ-1"])
    frank, carol = [await person_id(shop, f"{n}@example.com") for n in ("frank", "carol")]
    assert sorted(to or 0 for to, _ in sent) == sorted([frank, carol])
    await shop.click("approve_request", "REQ-1", who="carol@example.com", expect=["REQ-1:status"])
    assert await tasks(shop, "REQ-1") == [
        ("Grant the report", "open"),
        ("Add to the mailing", "open"),
    ]
    await shop.click("complete_task", "REQ-1/2", who="erin@example.com", expect=["REQ-1:status"])
    await shop.click("complete_task", "REQ-1/1", who="bob@example.com", expect=["REQ-1:status"])
    assert (await shop.ticket("REQ-1")).status is Status.RESOLVED


async def test_a_rejection_at_the_second_step_ends_the_request_with_the_reason(
    shop: Dialogue, sent: Sent
) -> None:
    await shop.say("I need database access")
    await shop.say("payroll")
    await shop.say("yes", expect=["+REQ-1"])
    await shop.click("approve_request", "REQ-1", who="dan@example.com")
    sent.clear()
    await shop.click("reject_request", "REQ-1", who="frank@example.com", expect=["REQ-1:status"])
    assert (await shop.ticket("REQ-1")).status is Status.REJECTED
    assert await tasks(shop, "REQ-1") == []
    [(to, told)] = sent
    assert to == await person_id(shop, "alice@example.com")
    assert told.text == "REQ-1 was rejected by Frank Approver."


async def test_an_unknown_ci_falls_back_to_the_desk_approvers(shop: Dialogue, sent: Sent) -> None:
    await shop.say("I need reporting access")
    turn = await shop.say("the old ledger")
    assert "Submit it?" in turn.text, turn.text
    await shop.say("yes", expect=["+REQ-1"])
    frank, carol = [await person_id(shop, f"{n}@example.com") for n in ("frank", "carol")]
    assert sorted(to or 0 for to, _ in sent) == sorted([frank, carol])
    async with UnitOfWork(shop.factory) as uow:
        ticket = await uow.tickets.by_ref("REQ-1")
        assert ticket is not None
        request = await uow.catalog.request_of(ticket.id)
        assert request is not None
        assert [s["label"] for s in request.chain] == ["the desk's approvers"]


async def test_the_tasks_of_a_cancelled_request_are_over(shop: Dialogue) -> None:
    await shop.say("I need reporting access")
    await shop.say("payroll-db")
    await shop.say("yes", expect=["+REQ-1"])
    await shop.click("approve_request", "REQ-1", who="carol@example.com", expect=["REQ-1:status"])
    async with UnitOfWork(shop.factory) as uow:
        ticket = await uow.tickets.by_ref("REQ-1")
        assert ticket is not None
        ticket.status = Status.CANCELLED
        await uow.commit()
    turn = await shop.click("complete_task", "REQ-1/1", who="bob@example.com")
    assert "REQ-1 is cancelled; its tasks are over." in turn.text


async def test_a_request_resolved_by_hand_drops_the_tasks_left(shop: Dialogue) -> None:
    await shop.say("I need reporting access")
    await shop.say("payroll-db")
    await shop.say("yes", expect=["+REQ-1"])
    await shop.click("approve_request", "REQ-1", who="carol@example.com", expect=["REQ-1:status"])
    await shop.click("complete_task", "REQ-1/2", who="erin@example.com", expect=["REQ-1:status"])
    await shop.say("resolve REQ-1", who="bob@example.com", expect=["REQ-1:status"])
    assert await tasks(shop, "REQ-1") == [
        ("Grant the report", "dropped"),
        ("Add to the mailing", "done"),
    ]
    turn = await shop.click("complete_task", "REQ-1/1", who="bob@example.com")
    assert "dropped" in turn.text
    assert await tasks(shop, "REQ-1") == [
        ("Grant the report", "dropped"),
        ("Add to the mailing", "done"),
    ]


async def test_typed_approvals_and_done_follow_the_chain_and_the_roles(
    shop: Dialogue, sent: Sent
) -> None:
    await shop.say("I need database access")
    await shop.say("payroll")
    await shop.say("yes", expect=["+REQ-1"])

    turn = await shop.say("approve REQ-1")
    assert "You requested REQ-1, so someone else has to approve it." in turn.text
    turn = await shop.say("approve REQ-1", who="frank@example.com")
    assert "Only Dan Requester can decide REQ-1." in turn.text
    turn = await shop.say("approve req-1", who="dan@example.com")
    assert "it goes on to 2 of the security group" in turn.text
    assert not any(r.replaces for r in turn.replies)
    await shop.say("approve REQ-1", who="frank@example.com")
    await shop.say("approve REQ-1", who="carol@example.com", expect=["REQ-1:status"])
    assert (await shop.ticket("REQ-1")).status is Status.NEW

    turn = await shop.say("done REQ-1/1", who="erin@example.com")
    assert "Only agents of hardware can complete REQ-1/1." in turn.text
    turn = await shop.say("done REQ-1/2", who="erin@example.com")
    assert "REQ-1/2 is waiting for an earlier task." in turn.text
    turn = await shop.say(
        "done REQ-1/1 account created", who="bob@example.com", expect=["REQ-1:status"]
    )
    assert "Bob Agent completed REQ-1/1 (Create the account)." in turn.text
    assert [n for n, s in await tasks(shop, "REQ-1") if s == "done"] == ["Create the account"]
    async with UnitOfWork(shop.factory) as uow:
        ticket = await uow.tickets.by_ref("REQ-1")
        assert ticket is not None
        [first, _] = await uow.catalog.tasks(ticket.id)
        assert first.result == "account created"
    await shop.say("done REQ-1/2", who="erin@example.com", expect=["REQ-1:status"])
    assert (await shop.ticket("REQ-1")).status is Status.RESOLVED


async def test_a_typed_rejection_keeps_its_reason(shop: Dialogue, sent: Sent) -> None:
    await shop.say("I need reporting access")
    await shop.say("payroll-db")
    await shop.say("yes", expect=["+REQ-1"])
    sent.clear()
    await shop.say(
        "reject REQ-1 because the report is being retired",
        who="carol@example.com",
        expect=["REQ-1:status"],
    )
    assert (await shop.ticket("REQ-1")).status is Status.REJECTED
    [(_, told)] = sent
    assert told.text == (
        "REQ-1 was rejected by Carol Approver. Reason: the report is being retired"
    )


async def test_command_words_that_name_no_request_or_task_are_read_as_usual(
    shop: Dialogue,
) -> None:
    seeded = await shop.seed("Printer jam")
    turn = await shop.say("approve CHG-99", who="carol@example.com")
    assert "REQ" not in turn.text
    turn = await shop.say("done with the printer, thanks")
    assert "complete" not in turn.text.casefold()
    assert seeded == "INC-1"


async def _door(act: str, ticket: Ticket, ctx: HandlerContext) -> None:
    """One way to move a ticket other than its approval buttons."""
    if act == "resolve":
        actions.resolve(ticket, "done", ctx)
    elif act == "hold":
        await actions.put_on_hold(ticket, "waiting", ctx)
    elif act == "approve":
        await actions.decide(ticket, Decision.APPROVED, "", ctx)
    elif act == "supplier":
        await hand_off(ctx, ticket, Supplier(name="NetCo", contact={}))
    else:
        update_ticket(ticket, Update(status=Status(act)), ctx)


async def test_no_other_door_moves_a_request_past_its_approvals(shop: Dialogue) -> None:
    """Chat, the console's actions and the update the REST API makes all refuse."""
    await shop.say("I need database access")
    await shop.say("payroll")
    await shop.say("yes", expect=["+REQ-1"])
    for who in ("alice@example.com", "bob@example.com", "carol@example.com"):
        for text in ("resolve REQ-1", "put REQ-1 on hold", "cancel REQ-1", "reopen REQ-1"):
            # The harness fails the turn if the ticket's status changes.
            await shop.say(text, who=who)

    async def attempt(who: str, act: str) -> None:
        async with UnitOfWork(shop.factory) as uow:
            person = await uow.people.by_email(who)
            ticket = await uow.tickets.by_ref("REQ-1")
            assert person is not None
            assert ticket is not None
            ctx = HandlerContext(
                uow=uow,
                person=person,
                address=Address(channel="console", conversation="web", user=who),
                now=datetime.now(UTC),
            )
            with pytest.raises(HandlerError):
                await _door(act, ticket, ctx)

    for who in ("bob@example.com", "carol@example.com"):
        for act in ("resolve", "hold", "approve", "supplier", "in_progress", "resolved", "new"):
            await attempt(who, act)
    assert (await shop.ticket("REQ-1")).status is Status.AWAITING_APPROVAL


async def test_person_and_ci_fields_are_looked_up_in_the_directory_and_the_cmdb(
    shop: Dialogue, sent: Sent
) -> None:
    turn = await shop.say("I need mailbox delegation")
    assert "Who should read it? (their name or email)" in turn.text
    turn = await shop.say("Nobody Known")
    assert "'Nobody Known' is not in the directory" in turn.text
    assert "Who should read it?" in turn.text
    turn = await shop.say("frank approver")
    assert "Which system? (its name in the configuration database)" in turn.text
    turn = await shop.say("the old ledger")
    assert "There is no configuration item called 'the old ledger'." in turn.text
    turn = await shop.say("PAYROLL-DB")
    assert "• Who should read it: frank@example.com" in turn.text
    assert "• Which system: payroll-db" in turn.text
    await shop.say("yes", expect=["+REQ-1"])
    frank, carol = [await person_id(shop, f"{n}@example.com") for n in ("frank", "carol")]
    assert sorted(to or 0 for to, _ in sent) == sorted([frank, carol])


async def test_a_task_done_in_a_chinese_groups_chat_is_told_in_chinese(
    dialogue: Dialogue, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.yml"
    path.write_text(
        """
groups:
  - {name: hardware, members: [bob@example.com], language: zh, slack_channel: C0HARD}
catalog:
  - name: Monitor
    aliases: [monitor]
    fulfilment:
      group: hardware
      tasks:
        - {name: Order it, group: hardware}
        - {name: Deliver it, group: hardware}
""",
        "utf-8",
    )
    async with UnitOfWork(dialogue.factory) as uow:
        await apply(uow, read([path]))
        await uow.commit()
    await dialogue.say("I need a monitor")
    await dialogue.say("yes", expect=["+REQ-1"])
    turn = await dialogue.click(
        "complete_task", "REQ-1/1", who="bob@example.com", expect=["REQ-1:status"]
    )
    assert "完成了 REQ-1/1（Order it）。还剩 1 个任务。" in turn.text
    assert "下一步：任务 REQ-1/2：Deliver it。" in turn.text
    assert [b.label for b in turn.replies[0].buttons] == ["完成"]
