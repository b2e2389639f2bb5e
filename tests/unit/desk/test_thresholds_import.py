"""`thresholds:` in the desk file: checked entry by entry, stored for the MQTT subscriber."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.desk.apply import apply
from bot.desk.files import DeskError, read
from bot.factories.mqtt import THRESHOLDS_KEY, rules_from
from store.db import SessionFactory, create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

DESK = """
thresholds:
  - {ci: server-room, metric: temperature, above: 40, for: 5m, severity: high}
  - {topic: "sensors/+/temp", field: value, above: 40, for: 5m, service: server-room, severity: critical}
  - {ci: ups-1, metric: battery, below: 20}
"""


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/desk.db")
    await upgrade_engine(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "desk.yml"
    path.write_text(text, "utf-8")
    return path


async def test_thresholds_are_stored_and_read_back(factory: SessionFactory, tmp_path: Path) -> None:
    desk = read([write(tmp_path, DESK)])
    async with UnitOfWork(factory) as uow:
        [change] = await apply(uow, desk)
        await uow.commit()
    assert (change.section, change.name, change.action) == ("thresholds", "3 thresholds", "create")
    async with UnitOfWork(factory) as uow:
        raw = await uow.cursors.get(THRESHOLDS_KEY)
        again = await apply(uow, desk)
    assert [c.action for c in again] == ["unchanged"]
    assert raw is not None
    stored = json.loads(raw)
    assert stored[1]["ci"] == "server-room"
    assert "service" not in stored[1]
    room, topic, ups = rules_from(raw)
    assert (room.ci, room.above, room.sustain.total_seconds(), room.severity) == (
        "server-room",
        40.0,
        300.0,
        "critical",
    )
    assert (topic.topic, topic.field, topic.ci) == ("sensors/+/temp", "value", "server-room")
    assert (ups.below, ups.severity) == (20.0, "warning")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{ci: a, metric: t}", "exactly one of `above` or `below`"),
        ("{ci: a, metric: t, above: 1, for: soon}", "`for` must be a duration"),
        ("{ci: a, metric: t, above: 1, severity: dire}", "`severity` must be one of"),
        ("{metric: t, above: 1}", "needs `ci`"),
        ("{ci: a, metric: t, above: 1, colour: red}", "`colour` is not a known key"),
        ("{ci: a, service: b, metric: t, above: 1}", "not two different names"),
    ],
)
def test_bad_thresholds_name_entry_and_reason(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(DeskError) as raised:
        read([write(tmp_path, f"thresholds:\n  - {entry}\n")])
    [line] = raised.value.problems
    assert "thresholds #1" in line
    assert problem in line


def test_the_same_threshold_twice_is_refused(tmp_path: Path) -> None:
    entry = "  - {ci: a, metric: t, above: 1}\n"
    with pytest.raises(DeskError, match="already given"):
        read([write(tmp_path, "thresholds:\n" + entry + entry)])
