"""`approvals`, `fulfilment.tasks` and `automation` in the desk file: stored, and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.desk.files import DeskError
from store.db import SessionFactory
from store.models import Group
from store.uow import UnitOfWork

from .test_catalog_import import run, write

DESK = """
people:
  - {name: Bob Agent, email: bob@example.com, roles: [agent], groups: [hardware]}
groups:
  - {name: hardware}
  - {name: security}
catalog:
  - name: Database access
    fields: [{name: database, label: Which database}]
    approvals:
      - manager
      - {by: group, group: security, quorum: 2}
      - {by: ci_owner, field: database}
    fulfilment:
      group: hardware
      order: parallel
      tasks:
        - {name: Create the account, group: hardware}
        - {name: Reset in the directory, automation: true}
    automation: {url: "https://idm.example.com/hooks/reset"}
"""


async def test_a_chain_tasks_and_an_automation_are_stored(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(factory, write(tmp_path, DESK))
    async with UnitOfWork(factory) as uow:
        item = await uow.catalog.named("database access")
        assert item is not None
        group = await uow.desk.named(Group, "security")
        assert group is not None
        security = group.id
        assert [(s["by"], s["group_id"], s["quorum"], s["field"]) for s in item.approvals] == [
            ("manager", None, 1, None),
            ("group", security, 2, None),
            ("ci_owner", None, 1, "database"),
        ]
        assert [(t["name"], t["group"], t["automation"]) for t in item.tasks] == [
            ("Create the account", "hardware", False),
            ("Reset in the directory", None, True),
        ]
        assert item.tasks_parallel is True
        assert item.automation == {"url": "https://idm.example.com/hooks/reset"}
    again = [c for c in await run(factory, write(tmp_path, DESK)) if c.section == "catalog"]
    assert {c.action for c in again} == {"unchanged"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "{by: group, group: security, quorum: 2}",
            "{by: group, group: nobody}",
            r"catalog #1 \(Database access\): `approvals.1.group`: unknown group 'nobody'",
        ),
        (
            "{by: group, group: security, quorum: 2}",
            "{by: group, group: security, quorum: 0}",
            r"`approvals.1.quorum`: Input should be greater than or equal to 1",
        ),
        (
            "{by: ci_owner, field: database}",
            "{by: ci_owner, field: colour}",
            r"'colour' is not a form field",
        ),
        ("{by: ci_owner, field: database}", "{by: ci_owner}", r"needs `field`"),
        ("      - manager\n", "      - {by: manager, quorum: 2}\n", r"a manager step has no"),
        (
            "{name: Create the account, group: hardware}",
            "{name: Create the account}",
            r"a task needs `group`",
        ),
        (
            "{name: Create the account, group: hardware}",
            "{name: Create the account, group: nowhere}",
            r"`fulfilment.tasks.0.group`: unknown group 'nowhere'",
        ),
        (
            '    automation: {url: "https://idm.example.com/hooks/reset"}\n',
            "",
            r"needs the item's `automation`",
        ),
        (
            '"https://idm.example.com/hooks/reset"',
            '"ftp://idm.example.com"',
            r"`automation.url`: String should match",
        ),
        ("    approvals:\n", "    approval: manager\n    approvals:\n", r"not both"),
    ],
)
async def test_bad_chains_and_tasks_are_refused_with_nothing_applied(
    factory: SessionFactory, tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in DESK
    with pytest.raises(DeskError, match=message):
        await run(factory, write(tmp_path, DESK.replace(old, new)))
    async with UnitOfWork(factory) as uow:
        assert await uow.catalog.items() == []
