"""Configuration items from the desk file: relations, refusals naming the entry, history, impact."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.desk.apply import apply
from bot.desk.files import DeskError, read
from handlers.cmdb import CiSpec, CmdbError, impact, impact_for, save
from store.db import SessionFactory
from store.enums import Criticality, Level, Status, TicketKind
from store.models import Person, ServiceLink, Ticket
from store.uow import UnitOfWork
from tests.unit.desks import write

DESK = """
groups:
  - {name: dba}
services:
  - {name: Payroll, criticality: critical, depends_on: [payroll-app]}
  - {name: CRM, criticality: critical, depends_on: [crm-app]}
  - {name: Wiki, criticality: low, runs_on: [vm-7]}
configuration_items:
  - {name: payroll-app, type: application, depends_on: [db-cluster-1], runs_on: [vm-7]}
  - {name: crm-app, type: application, depends_on: [db-cluster-1]}
  - {name: db-cluster-1, type: database, criticality: high, owner_group: dba,
     attributes: {engine: postgresql, version: 16}}
  - {name: db-node-a, type: server, part_of: db-cluster-1}
  - {name: vm-7, type: server}
  - {name: core-switch, type: network}
"""


async def load(factory: SessionFactory, tmp_path: Path, text: str = DESK) -> None:
    desk = read([write(tmp_path, text)])
    assert desk.warnings == []
    async with UnitOfWork(factory) as uow:
        await apply(uow, desk)
        await uow.commit()


async def attempt(factory: SessionFactory, path: Path) -> None:
    """Read and apply without committing."""
    desk = read([path])
    async with UnitOfWork(factory) as uow:
        await apply(uow, desk)


async def test_items_and_relations_import_and_give_impact(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("DB-cluster-1")
        assert db is not None
        snap = await uow.cmdb.snapshot(db)
        assert snap["type"] == "database"
        assert snap["owner_group"] == "dba"
        assert snap["attributes"] == {"engine": "postgresql", "version": 16}
        node = await uow.cmdb.by_name("db-node-a")
        assert node is not None
        assert (await uow.cmdb.snapshot(node))["part_of"] == "db-cluster-1"

        # A part failing reaches the whole and everything that depends on the whole.
        found = await impact(uow, node)
        assert [(a.name, a.depth) for a in found.services] == [("CRM", 3), ("Payroll", 3)]
        level = await impact_for(uow, db)
        assert level.level is Level.HIGH
        assert level.criticality is Criticality.CRITICAL
        assert level.reason == "CRM and Payroll depend on db-cluster-1"

        vm = await uow.cmdb.by_name("vm-7")
        assert vm is not None
        assert [a.name for a in (await impact(uow, vm)).services] == ["Payroll", "Wiki"]
        switch = await uow.cmdb.by_name("core-switch")
        assert switch is not None
        alone = await impact_for(uow, switch)
        assert alone.criticality is Criticality.MEDIUM
        assert alone.reason == "nothing depends on core-switch; it is medium"
        wiki = await uow.cmdb.by_name("Wiki")
        assert wiki is not None
        assert (await impact_for(uow, wiki)).reason == "nothing depends on Wiki; it is low"


async def test_open_incidents_are_counted_per_service(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with UnitOfWork(factory) as uow:
        someone = Person(name="Sam", email="sam@example.com")
        uow.session.add(someone)
        await uow.session.flush()
        payroll = await uow.cmdb.by_name("Payroll")
        assert payroll is not None
        for n, status in enumerate([Status.NEW, Status.ON_HOLD, Status.RESOLVED], start=1):
            uow.session.add(
                Ticket(
                    kind=TicketKind.INCIDENT,
                    number=n,
                    ref=f"INC-{n}",
                    title="payroll down",
                    status=status,
                    requester_id=someone.id,
                    service_id=payroll.id,
                )
            )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        assert db is not None
        counts = {a.name: a.open_incidents for a in (await impact(uow, db)).services}
        assert counts == {"Payroll": 2, "CRM": 0}


async def test_each_change_is_one_history_event_and_a_reimport_adds_none(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    await load(factory, tmp_path)
    await load(
        factory,
        tmp_path,
        DESK.replace("criticality: high, owner_group", "criticality: critical, owner_group"),
    )
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        assert db is not None
        events = await uow.cmdb.history(db)
        assert [(e.action, e.source) for e in events] == [
            ("create", "import"),
            ("update", "import"),
        ]
        assert events[0].changes["type"] == {"from": None, "to": "database"}
        assert events[1].changes == {"criticality": {"from": "high", "to": "critical"}}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "configuration_items:\n  - {name: a, type: server, depends_on: [b]}\n"
            "  - {name: b, type: server, runs_on: [a]}\n",
            "configuration_items #1 (a): `depends_on`: a cycle: a → b → a",
        ),
        (
            "configuration_items:\n  - {name: a, type: server, part_of: b}\n"
            "  - {name: b, type: server, part_of: a}\n",
            "configuration_items #1 (a): `part_of`: a cycle: a → b → a",
        ),
        (
            "configuration_items:\n  - {name: a, type: mainframe}\n",
            "configuration_items #1 (a): `type`: unknown type 'mainframe'",
        ),
        (
            "services:\n  - {name: Payroll, depends_on: [payroll-db]}\n",
            "services #1 (Payroll): `depends_on.0`: unknown configuration item 'payroll-db'",
        ),
        (
            "services:\n  - {name: a}\nconfiguration_items:\n  - {name: A, type: server}\n",
            "configuration_items #1 (A): already given at",
        ),
    ],
)
async def test_bad_items_are_refused_naming_the_entry(
    factory: SessionFactory, tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(DeskError) as raised:
        await attempt(factory, write(tmp_path, text))
    assert any(problem in p for p in raised.value.problems), raised.value.problems


async def test_a_cycle_through_items_already_stored_is_refused(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    desk = read(
        [
            write(
                tmp_path,
                "configuration_items:\n  - {name: vm-7, type: server, runs_on: [Wiki]}\n",
                "more.yml",
            )
        ]
    )
    async with UnitOfWork(factory) as uow:
        with pytest.raises(DeskError, match=r"vm-7\): `runs_on`: a cycle: vm-7 → wiki → vm-7"):
            await apply(uow, desk)


async def test_an_edit_refuses_cycles_and_unknown_names_and_records_who(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        assert db is not None
        with pytest.raises(CmdbError, match="a cycle: Payroll already depends on db-cluster-1"):
            await save(
                uow, "db-cluster-1", CiSpec(type="database", depends_on=("Payroll",)), actor=None
            )
        with pytest.raises(CmdbError, match="unknown configuration item 'nope'"):
            await save(uow, "db-cluster-1", CiSpec(type="database", runs_on=("nope",)), actor=None)
        with pytest.raises(CmdbError, match="unknown type 'blob'"):
            await save(uow, "x", CiSpec(type="blob"), actor=None)
        saved = await save(
            uow,
            "db-cluster-1",
            CiSpec(type="database", criticality=Criticality.LOW, runs_on=("vm-7",)),
            actor=None,
        )
        assert not saved.created
        assert saved.changes["runs_on"] == {"from": [], "to": ["vm-7"]}
        assert saved.changes["owner_group"] == {"from": "dba", "to": None}
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        assert db is not None
        assert [e.source for e in await uow.cmdb.history(db)] == ["import", "api"]


async def test_a_cycle_written_around_the_import_still_ends_the_walk(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        payroll = await uow.cmdb.by_name("Payroll")
        node = await uow.cmdb.by_name("db-node-a")
        assert db is not None
        assert payroll is not None
        assert node is not None
        # Payroll → payroll-app → db-cluster-1 → Payroll, and the cluster part of its own part.
        uow.session.add(ServiceLink(service_id=db.id, target_id=payroll.id, relation="depends_on"))
        db.parent_id = node.id
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        db = await uow.cmdb.by_name("db-cluster-1")
        assert db is not None
        found = await impact(uow, db)
        assert [(a.name, a.depth) for a in found.services] == [("CRM", 2), ("Payroll", 2)]
        node = await uow.cmdb.by_name("db-node-a")
        assert node is not None
        assert {a.name for a in (await impact(uow, node)).services} == {"CRM", "Payroll"}


async def test_a_service_above_everything_depending_on_it_keeps_its_own_impact(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await load(factory, tmp_path)
    async with UnitOfWork(factory) as uow:
        await save(
            uow,
            "Portal",
            CiSpec(criticality=Criticality.LOW, depends_on=("Payroll",)),
            actor=None,
        )
        payroll = await uow.cmdb.by_name("Payroll")
        assert payroll is not None
        found = await impact_for(uow, payroll)
        assert (found.level, found.reason) == (Level.HIGH, "Payroll is critical")
        app = await uow.cmdb.by_name("payroll-app")
        assert app is not None
        assert (await impact_for(uow, app)).reason == "Payroll depends on payroll-app"
