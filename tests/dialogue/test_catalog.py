"""Ordering from the catalog in chat: the form one question at a time, approval, fulfilment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.desk.apply import apply
from bot.desk.files import read
from store.enums import Status
from store.uow import UnitOfWork

from .conftest import Dialogue, Sent

CATALOG = """
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: finance-approvers, members: [frank@example.com]}
catalog:
  - name: New laptop
    aliases: [laptop, notebook]
    category: Hardware
    description: A standard laptop with the company image.
    fields:
      - {name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}
      - {name: needed_by, label: Needed by, type: date}
      - {name: notes, label: Anything else, required: false}
    approval: manager
    fulfilment: {group: hardware, target: 3d}
  - name: Finance share access
    aliases: [finance share]
    fields:
      - {name: owner, label: The data owner's email, type: email}
    approval: {by: group, group: finance-approvers}
    fulfilment: {group: hardware}
  - name: Headset
    fulfilment: {group: hardware, target: 1d}
  - name: Server access
    aliases: [server access]
    fields: [{name: host, label: Which server}]
    fulfilment: {group: hardware}
    ordered_by: {roles: [agent]}
"""


@pytest.fixture
async def shop(dialogue: Dialogue, tmp_path: Path) -> Dialogue:
    """The demo desk with a catalog, and Dan as Alice's manager."""
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


async def person_id(d: Dialogue, email: str) -> int:
    async with UnitOfWork(d.factory) as uow:
        p = await uow.people.by_email(email)
        assert p is not None
        return p.id


async def test_order_a_laptop_through_the_form_and_the_manager_approves(
    shop: Dialogue, sent: Sent
) -> None:
    turn = await shop.say("I need a new laptop")
    assert "Let's order New laptop" in turn.text
    assert "Which model? 1) 14-inch  2) 16-inch" in turn.text
    assert shop.pending() == "answer"

    turn = await shop.say("32-inch")
    assert "Which model must be one of: 14-inch, 16-inch." in turn.text
    assert shop.pending() == "answer"

    turn = await shop.say("2")
    assert "Needed by?" in turn.text
    turn = await shop.say("someday")
    assert "Needed by must be a date" in turn.text
    turn = await shop.say("2026-12-24")
    assert "Anything else?" in turn.text
    turn = await shop.say("skip")
    assert "Here is your request for New laptop:" in turn.text
    assert "• Which model: 16-inch" in turn.text
    assert "• Needed by: 2026-12-24" in turn.text
    assert "It needs approval by your manager." in turn.text
    assert shop.pending() == "choice"

    turn = await shop.click("catalog_submit", expect=["+REQ-1"])
    assert "waiting for approval by Dan Requester" in turn.text
    ticket = await shop.ticket("REQ-1")
    assert ticket.status is Status.AWAITING_APPROVAL
    assert ticket.catalog_item == "New laptop"
    assert "Which model: 16-inch" in ticket.description
    dan = await person_id(shop, "dan@example.com")
    [(to, ask)] = sent
    assert to == dan
    sent.clear()
    assert "Alice Example asks for New laptop (REQ-1)" in ask.text
    assert [b.action for b in ask.buttons] == ["approve_request", "reject_request"]

    # The requester cannot approve their own request, nor can someone outside the chain.
    turn = await shop.click("approve_request", "REQ-1")
    assert "someone else has to approve it" in turn.text
    turn = await shop.click("approve_request", "REQ-1", who="frank@example.com")
    assert "Only Dan Requester can decide REQ-1." in turn.text

    before = datetime.now(UTC)
    turn = await shop.click(
        "approve_request", "REQ-1", who="dan@example.com", expect=["REQ-1:status"]
    )
    assert "You approved REQ-1." in turn.text
    ticket = await shop.ticket("REQ-1")
    assert ticket.status is Status.NEW
    assert ticket.group is not None
    assert ticket.group.name == "hardware"
    assert ticket.resolve_due_at is not None
    assert (
        before + timedelta(days=3) <= ticket.resolve_due_at <= datetime.now(UTC) + timedelta(days=3)
    )
    [(to, told)] = sent
    assert to == await person_id(shop, "alice@example.com")
    assert told.text.startswith("REQ-1 was approved by Dan Requester. hardware will take care")
    async with UnitOfWork(shop.factory) as uow:
        [ballot] = await uow.tickets.approvals(ticket.id)
        assert ballot.approver.email == "dan@example.com"

    turn = await shop.click("approve_request", "REQ-1", who="dan@example.com")
    assert "not waiting for approval" in turn.text


async def test_the_first_message_fills_what_it_can(shop: Dialogue) -> None:
    turn = await shop.say("I'd like to order a new laptop, the 14-inch one")
    assert "Needed by?" in turn.text
    assert "Which model" not in turn.text


async def test_cancel_at_the_summary_submits_nothing(shop: Dialogue) -> None:
    await shop.say("I need a headset")
    turn = await shop.say("no")
    assert "nothing was submitted" in turn.text
    assert await shop.tickets() == []


async def test_group_approval_and_a_rejection_reaches_the_requester(
    shop: Dialogue, sent: Sent
) -> None:
    turn = await shop.say("I need access to the finance share")
    assert "The data owner's email?" in turn.text
    turn = await shop.say("not an email")
    assert "is not an email address" in turn.text
    turn = await shop.say("owner@example.com")
    assert "approval by the finance-approvers group" in turn.text
    await shop.say("yes", expect=["+REQ-1"])
    frank = await person_id(shop, "frank@example.com")
    assert [to for to, _ in sent] == [frank]
    turn = await shop.click("approve_request", "REQ-1", who="carol@example.com")
    assert "Only Frank Approver can decide REQ-1." in turn.text
    # A requester outside the chain learns nothing about someone else's request.
    turn = await shop.click("approve_request", "REQ-1", who="dan@example.com")
    assert "I couldn't find REQ-1" in turn.text
    sent.clear()
    await shop.click("reject_request", "REQ-1", who="frank@example.com", expect=["REQ-1:status"])
    ticket = await shop.ticket("REQ-1")
    assert ticket.status is Status.REJECTED
    assert ticket.resolve_due_at is None
    [(to, told)] = sent
    assert to == await person_id(shop, "alice@example.com")
    assert told.text == "REQ-1 was rejected by Frank Approver."


async def test_an_item_without_approval_goes_straight_to_its_group(shop: Dialogue) -> None:
    turn = await shop.say("I need a headset")
    assert "Here is your request for Headset" in turn.text
    turn = await shop.say("yes", expect=["+REQ-1"])
    assert "hardware will take care of it" in turn.text
    ticket = await shop.ticket("REQ-1")
    assert ticket.status is Status.NEW
    assert ticket.group is not None
    assert ticket.group.name == "hardware"
    assert ticket.resolve_due_at is not None


async def test_request_service_without_a_catalog_item_files_as_before(shop: Dialogue) -> None:
    turn = await shop.say("please add me to the sales distribution list", expect=["+REQ-1"])
    assert "I've opened request REQ-1" in turn.text


async def test_an_item_for_agents_only_is_refused_to_a_requester(shop: Dialogue) -> None:
    turn = await shop.say("I need server access please")
    assert "Server access can't be ordered from your account." in turn.text
    assert "people with the role agent" in turn.text
    assert shop.pending() is None
    turn = await shop.say("I need server access please", who="bob@example.com")
    assert "Which server?" in turn.text


async def test_what_can_i_order_lists_the_items_and_a_click_starts_one(shop: Dialogue) -> None:
    turn = await shop.say("what can I order?")
    assert "Here's what you can order:" in turn.text
    assert "• New laptop: A standard laptop with the company image." in turn.text
    assert "Server access" not in turn.text
    assert [b.label for b in turn.replies[0].buttons] == [
        "Finance share access",
        "Headset",
        "New laptop",
    ]
    turn = await shop.say("3")
    assert "Let's order New laptop" in turn.text


async def test_in_a_shared_conversation_only_the_orderer_answers_and_submits(
    shop: Dialogue,
) -> None:
    # The harness keeps state per person; a shared channel keeps one for everyone in it.
    await shop.say("I need a new laptop")
    shop.states["bob@example.com"] = shop.states["alice@example.com"]
    turn = await shop.say("16-inch", who="bob@example.com")
    assert "waiting for an answer from the person who started this order" in turn.text
    assert shop.pending("bob@example.com") == "answer"
    await shop.say("16-inch")
    await shop.say("2026-12-24")
    await shop.say("skip")
    shop.states["bob@example.com"] = shop.states["alice@example.com"]
    turn = await shop.say("yes", who="bob@example.com")
    assert "Only the person who filled in this order can submit it." in turn.text
    assert await shop.tickets() == []
