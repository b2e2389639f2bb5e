"""Which device a report is about."""

from __future__ import annotations

import pytest

from handlers.rules.devices import Device, kind_of, kinds_mentioned, pick

LAPTOP = Device(name="LT-0042", attributes={"model": "ThinkPad X1 Carbon"})
PHONE = Device(name="PH-0007", attributes={"kind": "phone", "model": "iPhone 15"})
SCREEN = Device(name="MON-3", attributes={"kind": "monitor"})


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("my laptop won't boot", {"laptop"}),
        ("the MacBook fan is loud", {"laptop"}),
        ("my phone and my laptop both lost wifi", {"phone", "laptop"}),
        ("my computer is frozen", {"any"}),
        ("笔记本开不了机", {"laptop"}),
        ("the VPN is down for the whole office", set()),
        ("the phonebook service is down", set()),
    ],
)
def test_kinds_mentioned(text: str, kinds: set[str]) -> None:
    assert kinds_mentioned(text) == kinds


def test_kind_from_attributes_or_name() -> None:
    assert kind_of(LAPTOP) == "laptop"
    assert kind_of(PHONE) == "phone"
    assert kind_of(Device(name="laptop-of-dee")) == "laptop"
    assert kind_of(Device(name="X-1")) is None


def test_the_device_the_report_names() -> None:
    mine = [LAPTOP, PHONE, SCREEN]
    assert pick(mine, {"laptop"}) == LAPTOP
    assert pick(mine, {"phone"}) == PHONE
    assert pick(mine, {"any"}) == LAPTOP  # the one computer
    assert pick(mine, {"tablet"}) is None
    assert pick(mine, {"phone", "laptop"}) is None  # two fit: not a guess
    assert pick([], {"laptop"}) is None


def test_one_unlabelled_device_takes_a_hardware_report() -> None:
    only = Device(name="X-1")
    assert pick([only], {"laptop"}) == only
    assert pick([only, LAPTOP], {"phone"}) is None
    assert pick([Device(name="db-01", type="database")], {"laptop"}) is None
