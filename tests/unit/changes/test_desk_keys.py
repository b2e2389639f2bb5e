"""`standard_changes` and `freeze_windows` in the desk file: applied, idempotent, checked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.desk.files import DeskError, read
from store.changes import FreezeWindow, StandardChange
from store.db import SessionFactory
from store.uow import UnitOfWork
from tests.unit.desk.test_import import run
from tests.unit.desks import write

DESK = """
services:
  - {name: Payroll, criticality: critical}
  - {name: Email, criticality: high}
standard_changes:
  - {name: Restart mail relay, services: [Email], duration: 30m, backout_plan: start it again}
freeze_windows:
  - {name: year-end, start: "2027-12-28 00:00", end: "2028-01-02 00:00", timezone: Europe/Berlin, services: [Payroll]}
  - {name: launch, start: "2027-06-01T08:00:00+00:00", end: "2027-06-01T20:00:00+00:00", services: "Payroll, Email"}
"""


async def test_calendar_keys_import_and_are_idempotent(
    factory: SessionFactory,
    tmp_path: Path,
) -> None:
    path = write(tmp_path, DESK)
    first = {(c.section, c.name): c.action for c in await run(factory, path)}
    assert first[("standard_changes", "Restart mail relay")] == "create"
    assert first[("freeze_windows", "year-end")] == "create"
    again = {(c.section, c.name): c.action for c in await run(factory, path)}
    assert set(again.values()) == {"unchanged"}
    async with UnitOfWork(factory) as uow:
        [std] = await uow.changes.standards()
        assert isinstance(std, StandardChange)
        assert (std.services, std.duration, std.backout_plan) == (
            ["Email"],
            "30m",
            "start it again",
        )
        freezes = await uow.changes.freezes_between(
            datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 12, 31, tzinfo=UTC)
        )
        assert [f.name for f in freezes] == ["launch", "year-end"]
        year_end: FreezeWindow = freezes[1]
        # Midnight in Berlin in winter is 23:00 UTC the day before.
        assert year_end.starts_at == datetime(2027, 12, 27, 23, tzinfo=UTC)
        assert year_end.ends_at == datetime(2028, 1, 1, 23, tzinfo=UTC)
        assert year_end.timezone == "Europe/Berlin"
        assert freezes[0].services == ["Payroll", "Email"]
    moved = DESK.replace('start: "2027-12-28 00:00"', 'start: "2027-12-29 00:00"')
    changed = {(c.section, c.name): c for c in await run(factory, write(tmp_path, moved))}
    assert changed[("freeze_windows", "year-end")].fields == ("starts_at",)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            '{name: f, start: "2027-01-02 00:00", end: "2027-01-01 00:00", services: [Payroll]}',
            "freeze_windows #1 (f): `end` is not after `start`",
        ),
        (
            '{name: f, start: "2027-01-01 00:00", end: "2027-01-02 00:00"}',
            "freeze_windows #1 (f): `services` is required",
        ),
        (
            '{name: f, start: "2027-01-01 00:00", end: "2027-01-02 00:00", services: []}',
            "freeze_windows #1 (f): `services`: a freeze window needs the services it freezes",
        ),
        (
            '{name: f, start: "2027-01-01 00:00", end: "2027-01-02 00:00", services: [X], '
            "timezone: Mars/Base}",
            "freeze_windows #1 (f): `timezone`: time zone 'Mars/Base' does not exist",
        ),
    ],
)
async def test_bad_freeze_windows_are_refused_naming_the_entry(
    tmp_path: Path, entry: str, problem: str
) -> None:
    with pytest.raises(DeskError) as caught:
        read([write(tmp_path, f"freeze_windows:\n  - {entry}\n")])
    assert any(line.endswith(problem) for line in caught.value.problems), caught.value.problems


async def test_unknown_services_are_refused(
    factory: SessionFactory,
    tmp_path: Path,
) -> None:
    text = (
        'freeze_windows:\n  - {name: f, start: "2027-01-01 00:00", end: "2027-01-02 00:00", '
        "services: [Nowhere]}\n"
        "standard_changes:\n  - {name: s, services: [Nothing], duration: 1h}\n"
    )
    with pytest.raises(DeskError) as caught:
        await run(factory, write(tmp_path, text))
    assert sorted(p.split(": ", 1)[1] for p in caught.value.problems) == [
        "freeze_windows #1 (f): `services.0`: unknown configuration item 'Nowhere'",
        "standard_changes #1 (s): `services.0`: unknown configuration item 'Nothing'",
    ]


async def test_change_boards_import_and_name_their_bad_entries(
    factory: SessionFactory,
    tmp_path: Path,
) -> None:
    board = (
        "groups:\n  - {name: payroll-board}\n"
        "services:\n  - {name: Payroll, criticality: critical}\n"
        "change_boards:\n  - {name: payroll-cab, group: payroll-board, services: [Payroll], "
        "quorum: 2}\n"
    )
    first = {(c.section, c.name): c.action for c in await run(factory, write(tmp_path, board))}
    assert first[("change_boards", "payroll-cab")] == "create"
    again = {(c.section, c.name): c.action for c in await run(factory, write(tmp_path, board))}
    assert again[("change_boards", "payroll-cab")] == "unchanged"
    async with UnitOfWork(factory) as uow:
        [(cab, members)] = await uow.changes.boards_for(["payroll"])
        assert (cab.name, cab.services, cab.quorum, members) == (
            "payroll-cab",
            ["Payroll"],
            2,
            frozenset(),
        )
    bad = "change_boards:\n  - {name: cab, group: Nobody, services: [Nowhere]}\n"
    with pytest.raises(DeskError) as caught:
        await run(factory, write(tmp_path, bad))
    assert sorted(p.split(": ", 1)[1] for p in caught.value.problems) == [
        "change_boards #1 (cab): `group`: unknown group 'Nobody'",
        "change_boards #1 (cab): `services.0`: unknown configuration item 'Nowhere'",
    ]
    with pytest.raises(DeskError) as shape:
        read(
            [
                write(
                    tmp_path, "change_boards:\n  - {name: cab, group: g, services: [], quorum: 0}\n"
                )
            ]
        )
    assert any("`quorum`" in p for p in shape.value.problems), shape.value.problems
    assert any("needs the services" in p for p in shape.value.problems), shape.value.problems
