"""`catalog:` in the desk file: items with forms, approval, fulfilment; errors name file, entry, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.desk.applied import Change
from bot.desk.apply import apply
from bot.desk.files import DeskError, read
from store.db import SessionFactory
from store.uow import UnitOfWork

DESK = """
people:
  - {name: Bob Agent, email: bob@example.com, roles: [agent], groups: [service-desk]}
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: finance-approvers}
catalog:
  - name: New laptop
    aliases: [laptop, notebook, 笔记本电脑]
    category: Hardware
    description: A standard laptop with the company image.
    fields:
      - {name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}
      - {name: needed_by, label: Needed by, type: date}
      - {name: notes, label: Anything else, required: false}
    approval: manager
    fulfilment: {group: hardware, target: 3d}
    ordered_by: {roles: [requester, agent]}
    cost: 1200 EUR
  - name: Finance share access
    fields:
      - {name: share, label: Which share}
      - {name: owner, label: Data owner's email, type: email}
    approval: {by: group, group: finance-approvers}
    fulfilment: {group: hardware}
"""


def write(tmp_path: Path, text: str, name: str = "desk.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


async def run(factory: SessionFactory, *paths: Path) -> list[Change]:
    desk = read(paths)
    async with UnitOfWork(factory) as uow:
        changes = await apply(uow, desk)
        await uow.commit()
    return changes


async def test_catalog_items_are_stored_and_the_import_is_idempotent(
    factory: SessionFactory, tmp_path: Path
) -> None:
    path = write(tmp_path, DESK)
    first = [c for c in await run(factory, path) if c.section == "catalog"]
    assert [(c.name, c.action) for c in first] == [
        ("New laptop", "create"),
        ("Finance share access", "create"),
    ]
    again = [c for c in await run(factory, path) if c.section == "catalog"]
    assert {c.action for c in again} == {"unchanged"}
    async with UnitOfWork(factory) as uow:
        laptop = await uow.catalog.find("notebook")
        assert laptop is not None
        assert laptop.name == "New laptop"
        assert laptop.approval == "manager"
        assert laptop.fulfilment_group is not None
        assert laptop.fulfilment_group.name == "hardware"
        assert laptop.fulfilment_target == "3d"
        assert laptop.roles == ["requester", "agent"]
        assert laptop.cost == "1200 EUR"
        assert [f["name"] for f in laptop.fields] == ["model", "needed_by", "notes"]
        assert laptop.fields[0]["choices"] == ["14-inch", "16-inch"]
        assert laptop.fields[2]["required"] is False
        share = await uow.catalog.named("finance share access")
        assert share is not None
        assert share.approval == "group"
        assert share.approval_group is not None
        assert share.approval_group.name == "finance-approvers"


async def test_a_changed_item_names_the_fields_that_changed(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(factory, write(tmp_path, DESK))
    edited = DESK.replace("target: 3d", "target: 5d").replace("cost: 1200 EUR", "cost: 1300 EUR")
    changes = [c for c in await run(factory, write(tmp_path, edited)) if c.section == "catalog"]
    assert changes[0].action == "update"
    assert set(changes[0].fields) == {"fulfilment_target", "cost"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "{name: model, label: Which model, type: choice, choices: [14-inch]}",
            r"desk.yml: catalog #1 \(New laptop\): `fields.0`: a choice field needs at least two",
        ),
        (
            "{name: model, label: Which model, type: colour}",
            r"desk.yml: catalog #1 \(New laptop\): `fields.0.type`: Input should be",
        ),
        (
            "{name: Model Name, label: Which model}",
            r"desk.yml: catalog #1 \(New laptop\): `fields.0.name`: String should match",
        ),
        (
            "{name: model, lable: Which model}",
            r"desk.yml: catalog #1 \(New laptop\): `fields.0.lable` is not a known key",
        ),
    ],
)
async def test_a_bad_field_names_file_entry_and_field(
    factory: SessionFactory, tmp_path: Path, bad: str, message: str
) -> None:
    text = DESK.replace(
        "{name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}", bad
    )
    with pytest.raises(DeskError, match=message):
        await run(factory, write(tmp_path, text))


async def test_unknown_groups_and_bad_durations_are_refused_with_nothing_applied(
    factory: SessionFactory, tmp_path: Path
) -> None:
    text = DESK.replace("group: finance-approvers}", "group: nobody}").replace(
        "target: 3d", "target: soon"
    )
    with pytest.raises(DeskError) as caught:
        await run(factory, write(tmp_path, text))
    # A file that cannot be read is reported before names are checked across entries.
    [problem] = caught.value.problems
    assert problem.endswith(
        "desk.yml: catalog #1 (New laptop): `fulfilment.target`: 'soon' is not a duration; "
        "write it like 30s, 15m, 4h or 3d"
    )
    text = DESK.replace("group: finance-approvers}", "group: nobody}")
    with pytest.raises(DeskError) as caught:
        await run(factory, write(tmp_path, text))
    [problem] = caught.value.problems
    assert problem.endswith(
        "desk.yml: catalog #2 (Finance share access): `approval.group`: unknown group 'nobody'"
    )
    async with UnitOfWork(factory) as uow:
        assert await uow.catalog.items() == []


async def test_approval_by_group_needs_the_group(factory: SessionFactory, tmp_path: Path) -> None:
    text = DESK.replace("approval: {by: group, group: finance-approvers}", "approval: group")
    with pytest.raises(
        DeskError,
        match=r"catalog #2 \(Finance share access\): `approval`: approval by a group needs",
    ):
        await run(factory, write(tmp_path, text))
