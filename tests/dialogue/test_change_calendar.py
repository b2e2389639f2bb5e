"""The change calendar in chat: freezes for changes naming no item, overlaps told to all."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from store.changes import FreezeWindow
from store.db import SessionFactory
from store.enums import ChangeType, Status, TicketKind
from store.uow import UnitOfWork

from .conftest import Dialogue


async def _freeze(dialogue: Dialogue) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        await uow.changes.upsert(
            FreezeWindow,
            "quarter-close",
            starts_at=datetime(2027, 3, 31, tzinfo=UTC),
            ends_at=datetime(2027, 4, 2, tzinfo=UTC),
            services=["CRM"],
        )
        await uow.commit()


async def test_a_change_naming_no_item_meets_every_freeze(dialogue: Dialogue) -> None:
    await _freeze(dialogue)
    ref = await dialogue.seed("Rotate certificates", kind=TicketKind.CHANGE, status=Status.APPROVED)
    refused = await dialogue.say(f"schedule {ref} 2027-03-31 22:00 to 23:00")
    assert "falls in the freeze quarter-close" in refused.text
    assert "names no configuration item" in refused.text
    named = await dialogue.say(f"schedule {ref} on Payroll 2027-03-31 22:00 to 23:00")
    assert f"{ref} is scheduled from Wed 31 Mar 22:00 to Wed 31 Mar 23:00 UTC" in named.text


async def test_an_overlap_is_told_to_both_requesters_and_the_approvers(
    dialogue: Dialogue,
) -> None:
    first = await dialogue.seed(
        "Patch payroll", kind=TicketKind.CHANGE, service="Payroll", status=Status.AWAITING_APPROVAL
    )
    second = await dialogue.seed(
        "Tune payroll",
        who="dan@example.com",
        kind=TicketKind.CHANGE,
        service="Payroll",
        status=Status.AWAITING_APPROVAL,
    )
    await dialogue.say(f"approve {first}", who="carol@example.com", expect=[f"{first}:status"])
    await dialogue.say(f"approve {second}", who="frank@example.com", expect=[f"{second}:status"])
    await dialogue.say(f"schedule {first} 2027-03-06 22:00 to 23:00")
    turn = await dialogue.say(f"schedule {second} 2027-03-06 22:30 to 23:30", who="dan@example.com")
    assert f"it overlaps {first}" in turn.text
    async with UnitOfWork(dialogue.factory) as uow:
        ids = {}
        for who in ("alice", "carol", "frank"):
            person = await uow.people.by_email(f"{who}@example.com")
            assert person is not None
            ids[who] = person.id
    told = {o.person_id for o in turn.outgoing if o.person_id and "overlaps" in o.reply.text}
    assert told == {ids["alice"], ids["carol"], ids["frank"]}
    assert any(o.topic == "approvals" for o in turn.outgoing)


async def test_a_freeze_refuses_a_normal_change_and_takes_an_emergency_one_with_a_review(
    dialogue: Dialogue,
) -> None:
    await _freeze(dialogue)
    normal = await dialogue.seed(
        "Patch CRM", kind=TicketKind.CHANGE, service="CRM", status=Status.APPROVED
    )
    refused = await dialogue.say(f"schedule {normal} 2027-03-31 22:00 to 23:00")
    assert "falls in the freeze quarter-close" in refused.text
    urgent = await dialogue.seed(
        "Hotfix CRM", kind=TicketKind.CHANGE, service="CRM", status=Status.APPROVED
    )
    async with UnitOfWork(dialogue.factory) as uow:
        chg = await uow.tickets.by_ref(urgent)
        assert chg is not None
        chg.change_type = ChangeType.EMERGENCY
        await uow.commit()
    alone = await dialogue.say(f"schedule {urgent} 2027-03-31 22:00 to 23:00")
    assert "only when a second approver, not its requester, schedules it" in alone.text
    entered = await dialogue.say(
        f"schedule {urgent} 2027-03-31 22:00 to 23:00", who="frank@example.com"
    )
    assert "enters the freeze quarter-close with your approval; a review follows" in entered.text
    await dialogue.say(f"implement {urgent}", who="bob@example.com", expect=[f"{urgent}:status"])
    done = await dialogue.say(
        f"complete {urgent} successful", who="bob@example.com", expect=[f"{urgent}:status"]
    )
    assert "post-implementation review is due" in done.text
    due = [o.reply.text for o in done.outgoing if o.topic == "approvals"]
    assert any(f"review of {urgent} (an emergency change) is due" in t for t in due)


async def test_a_window_typed_in_chat_is_read_and_said_in_the_desks_time_zone(
    factory: SessionFactory, model_root: Path
) -> None:
    from nlu.pipeline import load

    berlin = Dialogue(factory=factory, nlu=load(model_root, timezone="Europe/Berlin"))
    ref = await berlin.seed(
        "Patch intranet", kind=TicketKind.CHANGE, service="Intranet", status=Status.APPROVED
    )
    turn = await berlin.say(f"schedule {ref} 2027-03-06 22:00 to 23:00")
    assert f"{ref} is scheduled from Sat 06 Mar 22:00 to Sat 06 Mar 23:00 UTC+01:00" in turn.text
    stored = await berlin.ticket(ref)
    assert stored.planned_start is not None
    assert stored.planned_start.astimezone(UTC) == datetime(2027, 3, 6, 21, 0, tzinfo=UTC)
