"""A report about someone's own hardware lands on the device the directory lists for them."""

from __future__ import annotations

from handlers.cmdb import CiSpec, save
from store.enums import Criticality
from store.uow import UnitOfWork

from .conftest import Dialogue


async def _give_devices(dialogue: Dialogue) -> None:
    async with UnitOfWork(dialogue.factory) as uow:
        await save(
            uow,
            "LT-0042",
            CiSpec(type="device", criticality=Criticality.LOW, attributes={"model": "ThinkPad"}),
            actor=None,
        )
        await save(
            uow,
            "PH-0007",
            CiSpec(type="device", criticality=Criticality.LOW, attributes={"kind": "phone"}),
            actor=None,
        )
        alice = await uow.people.by_email("alice@example.com")
        assert alice is not None
        alice.devices = ["LT-0042", "PH-0007"]
        await uow.commit()


async def test_my_laptop_is_the_laptop_on_record(dialogue: Dialogue) -> None:
    await _give_devices(dialogue)
    turn = await dialogue.say(
        "my laptop won't boot, it just shows a black screen", expect=["+INC-1"]
    )
    ticket = await dialogue.ticket("INC-1")
    assert ticket.service is not None
    assert ticket.service.name == "LT-0042"
    assert "for LT-0042" in turn.text
    assert "Which system is affected?" not in turn.text


async def test_without_devices_on_record_the_desk_is_asked(dialogue: Dialogue) -> None:
    turn = await dialogue.say(
        "my laptop won't boot, it just shows a black screen",
        who="dan@example.com",
        expect=["+INC-1"],
    )
    ticket = await dialogue.ticket("INC-1")
    assert ticket.service is None
    assert "which system is affected?" in turn.text.lower()
