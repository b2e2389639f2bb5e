"""Change advisory boards in chat: a normal change needs each affected service's quorum."""

from __future__ import annotations

from handlers.cmdb import CiSpec, save
from store.changes import ChangeBoard
from store.enums import Status, TicketKind
from store.models import Group
from store.uow import UnitOfWork

from .conftest import Dialogue

CAROL, FRANK, GRACE, BOB = (
    "carol@example.com",
    "frank@example.com",
    "grace@example.com",
    "bob@example.com",
)


async def _board(
    dialogue: Dialogue, quorum: int, services: list[str], *, with_grace: bool = True
) -> None:
    """The change-board group (Carol, Frank; Grace the admin when asked) as payroll-cab."""
    async with UnitOfWork(dialogue.factory) as uow:
        group = await uow.desk.named(Group, "change-board")
        assert group is not None
        grace = await uow.people.by_email(GRACE)
        assert grace is not None
        if with_grace:
            await uow.desk.add_member(group, grace)
        await uow.changes.upsert(
            ChangeBoard, "payroll-cab", group_id=group.id, services=services, quorum=quorum
        )
        await uow.commit()


async def test_a_normal_change_needs_two_board_members_and_never_its_requester(
    dialogue: Dialogue,
) -> None:
    await _board(dialogue, 2, ["Payroll"])
    asked = await dialogue.say(
        "please restart the payroll server on Saturday 22:00", who=CAROL, expect=["+CHG-1"]
    )
    assert "sent it to the change board payroll-cab" in asked.text
    told = {o.address.conversation for o in asked.outgoing if o.address is not None}
    assert CAROL not in told
    own = await dialogue.say("approve CHG-1", who=CAROL)
    assert "someone else has to approve it" in own.text
    outsider = await dialogue.say("approve CHG-1", who=BOB)
    assert "Only approvers" in outsider.text
    first = await dialogue.say("approve CHG-1", who=FRANK)
    assert "needs more approvals: payroll-cab 1 of 2" in first.text
    assert (await dialogue.ticket("CHG-1")).status is Status.AWAITING_APPROVAL
    second = await dialogue.say("approve CHG-1", who=GRACE, expect=["CHG-1:status"])
    assert "It is now approved" in second.text


async def test_only_board_members_decide_and_one_member_rejects(dialogue: Dialogue) -> None:
    await _board(dialogue, 1, ["Payroll"], with_grace=False)
    ref = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.AWAITING_APPROVAL
    )
    admin = await dialogue.say(f"approve {ref}", who=GRACE)
    assert f"{ref} is decided by the change board payroll-cab, and you are not on it" in admin.text
    turn = await dialogue.say(f"reject {ref}", who=FRANK, expect=[f"{ref}:status"])
    assert "It is now rejected" in turn.text


async def test_a_change_to_a_database_reaches_the_board_of_the_service_on_it(
    dialogue: Dialogue,
) -> None:
    await _board(dialogue, 1, ["Payroll"], with_grace=False)
    async with UnitOfWork(dialogue.factory) as uow:
        await save(uow, "payroll-db", CiSpec(type="database"), actor=None)
        svc = await uow.cmdb.by_name("Payroll")
        assert svc is not None
        await save(
            uow,
            "Payroll",
            CiSpec(criticality=svc.criticality, depends_on=("payroll-db",)),
            actor=None,
        )
        await uow.commit()
    ref = await dialogue.seed(
        "Patch the payroll database",
        kind=TicketKind.CHANGE,
        service="payroll-db",
        status=Status.AWAITING_APPROVAL,
    )
    refused = await dialogue.say(f"approve {ref}", who=GRACE)
    assert "payroll-cab, and you are not on it" in refused.text
    done = await dialogue.say(f"approve {ref}", who=FRANK, expect=[f"{ref}:status"])
    assert "It is now approved" in done.text


async def test_waiting_for_approval_lists_only_what_the_person_may_decide(
    dialogue: Dialogue,
) -> None:
    await _board(dialogue, 1, ["Payroll"], with_grace=False)
    boarded = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.AWAITING_APPROVAL
    )
    free = await dialogue.seed(
        "Patch intranet",
        kind=TicketKind.CHANGE,
        service="Intranet",
        status=Status.AWAITING_APPROVAL,
    )
    # Grace (an admin, not on payroll-cab) would be refused on the payroll change.
    asked = await dialogue.say("approve", who=GRACE)
    assert boarded not in asked.text
    assert free in asked.text
    outsider = await dialogue.say("what's waiting for my approval?", who=GRACE)
    assert free in outsider.text
    assert boarded not in outsider.text
    member = await dialogue.say("what's waiting for my approval?", who=FRANK)
    assert boarded in member.text
    assert free in member.text
