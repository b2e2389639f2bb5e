"""Configuration read once per unit of work: kept while untouched, read afresh once changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, update

from store.db import SessionFactory
from store.enums import TicketKind
from store.models import Group, Service, ServiceLevel, ServiceLink
from store.problems import ProblemStage
from store.uow import UnitOfWork


def _count_selects(factory: SessionFactory, table: str) -> list[str]:
    seen: list[str] = []
    bind = factory.kw["bind"]

    @event.listens_for(bind.sync_engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT") and f"FROM {table}" in sql:
            seen.append(sql)

    return seen


async def test_default_group_is_read_once_per_unit_of_work(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        uow.session.add(Group(name="service-desk", is_default=True))
        await uow.commit()
    seen = _count_selects(factory, "groups")
    async with UnitOfWork(factory) as uow:
        first = await uow.desk.default_group()
        again = await uow.desk.default_group()
        assert first is not None
        assert again is first
    assert len(seen) == 1
    async with UnitOfWork(factory) as uow:
        await uow.desk.default_group()
    assert len(seen) == 2, "a new unit of work reads again"


async def test_a_change_in_the_same_unit_of_work_is_read_afresh(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        desk = Group(name="service-desk", is_default=True)
        uow.session.add_all([desk, Group(name="network")])
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        first = await uow.desk.default_group()
        assert first is not None
        assert first.name == "service-desk"
        # A Core UPDATE the identity map never sees: the memo must not answer from before it.
        await uow.session.execute(update(Group).values(is_default=Group.name == "network"))
        now = await uow.desk.default_group()
        assert now is not None
        assert now.name == "network"
        assert await uow.desk.service_levels() == []
        uow.session.add(ServiceLevel(name="gold", targets={}))
        assert [s.name for s in await uow.desk.service_levels()] == ["gold"]


async def test_a_change_committed_elsewhere_is_seen_by_the_next_unit(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        vpn, net = Service(name="VPN"), Service(name="Network")
        uow.session.add_all([vpn, net])
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.upstream(vpn.id) == [vpn.id]
        assert await uow.cursors.get("group.language.1") is None
    async with UnitOfWork(factory) as uow:
        uow.session.add(ServiceLink(service_id=vpn.id, target_id=net.id, relation="depends_on"))
        await uow.cursors.set("group.language.1", "zh")
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.upstream(vpn.id) == [vpn.id, net.id]
        assert await uow.cursors.get("group.language.1") == "zh"


async def test_a_link_added_in_the_unit_of_work_changes_the_graph(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        vpn, net = Service(name="VPN"), Service(name="Network")
        uow.session.add_all([vpn, net])
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.alerts.upstream(vpn.id) == [vpn.id]
        assert await uow.cmdb.subgraph(net.id) == {}
        await uow.desk.set_links(vpn, "depends_on", [net])
        assert await uow.alerts.upstream(vpn.id) == [vpn.id, net.id]
        assert await uow.cmdb.subgraph(net.id) == {net.id: [vpn.id]}


async def test_known_errors_follow_a_record_or_problem_changed_in_the_unit(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.create(name="Alice", email="alice@example.com")
        vpn, mail = Service(name="VPN"), Service(name="Mail")
        uow.session.add_all([vpn, mail])
        await uow.session.flush()
        problem = await uow.tickets.create(
            kind=TicketKind.PROBLEM, title="Tunnel drops", requester=alice, service_id=vpn.id
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert await uow.problems.known_errors(vpn.id) == []
        found = await uow.tickets.get(problem.id)
        assert found is not None
        record = await uow.problems.record(found)
        record.stage = ProblemStage.KNOWN_ERROR
        assert [k.problem_id for k in await uow.problems.known_errors(vpn.id)] == [problem.id]
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        assert [k.problem_id for k in await uow.problems.known_errors(vpn.id)] == [problem.id]
        found = await uow.tickets.get(problem.id)
        assert found is not None
        found.service_id = mail.id
        assert await uow.problems.known_errors(vpn.id) == []
