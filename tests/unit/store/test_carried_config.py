"""Configuration carried from one unit of work to the next of a batch, and when it is not."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import selectinload

from store.config_memo import CarriedConfig, ConfigMemo
from store.db import SessionFactory
from store.enums import TicketKind
from store.models import Group, Service, ServiceLevel, ServiceLink
from store.problems import ProblemStage
from store.uow import UnitOfWork

CONFIG = ("groups", "service_levels", "services", "service_links", "cursors", "calendars")


def _count_statements(factory: SessionFactory) -> list[str]:
    seen: list[str] = []
    bind = factory.kw["bind"]

    @event.listens_for(bind.sync_engine, "before_cursor_execute")
    def _seen(_c: Any, _cur: Any, sql: str, *_a: Any) -> None:
        seen.append(" ".join(sql.split()))

    return seen


_FIRST_TABLE = re.compile(r"^(?:SELECT|WITH)\b.*?\bFROM (\w+)", re.I)


def _reads_of(seen: list[str], table: str) -> int:
    """The reads whose first table is `table` (a recursive walk counts once, for its CTE)."""
    return sum(1 for sql in seen if (m := _FIRST_TABLE.match(sql)) and m.group(1) == table)


async def _desk(factory: SessionFactory) -> tuple[int, int]:
    async with UnitOfWork(factory) as uow:
        vpn, net = Service(name="VPN"), Service(name="Network")
        uow.session.add_all(
            [Group(name="service-desk", is_default=True), vpn, net, ServiceLevel(name="gold")]
        )
        await uow.session.flush()
        uow.session.add(ServiceLink(service_id=vpn.id, target_id=net.id, relation="depends_on"))
        await uow.cursors.set("group.language.1", "fr")
        await uow.commit()
        return vpn.id, net.id


async def _read_all(uow: UnitOfWork, vpn: int) -> dict[str, Any]:
    group = await uow.desk.default_group()
    assert group is not None
    return {
        "group": (group.name, group.is_default),
        "levels": [s.name for s in await uow.desk.service_levels()],
        "services": [s.name for s in await uow.services.all()],
        "upstream": await uow.alerts.upstream(vpn),
        "language": await uow.cursors.get("group.language.1"),
        "calendars": await uow.desk.calendars(),
    }


async def test_the_units_of_a_batch_read_the_configuration_once(factory: SessionFactory) -> None:
    vpn, net = await _desk(factory)
    seen = _count_statements(factory)
    carry = CarriedConfig()
    answers = []
    first: list[str] = []
    for _ in range(3):
        async with UnitOfWork(factory, carry=carry) as uow:
            answers.append(await _read_all(uow, vpn))
            group = await uow.desk.default_group()
            assert group is not None
            # Attached to this session, loaded, clean: usable as if read here.
            assert inspect(group).session is uow.session.sync_session
            assert not inspect(group).expired_attributes
            assert group not in uow.session.dirty
            await uow.commit()
        if not first:
            first, seen[:] = list(seen), []
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["upstream"] == [vpn, net]
    assert answers[0]["language"] == "fr"
    for table in CONFIG:
        assert _reads_of(seen, table) == 0, f"{table} read again after the first unit"
    assert _reads_of(first, "groups") == _reads_of(first, "services") == 1
    assert _reads_of(first, "cursors") == _reads_of(first, "service_levels") == 1
    # Without a carrier, every unit of work reads again, as before.
    seen.clear()
    async with UnitOfWork(factory) as uow:
        assert await _read_all(uow, vpn) == answers[0]
    assert _reads_of(seen, "groups") == 1
    assert _reads_of(seen, "services") == 1


async def test_a_carried_row_is_one_with_the_same_row_read_in_the_session(
    factory: SessionFactory,
) -> None:
    await _desk(factory)
    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        assert await uow.desk.default_group() is not None
        await uow.commit()
    async with UnitOfWork(factory, carry=carry) as uow:
        here = await uow.desk.named(Group, "service-desk")
        carried = await uow.desk.default_group()
        assert carried is here
        ticket = await uow.tickets.create(
            kind=TicketKind.INCIDENT,
            title="VPN down",
            requester=await uow.people.create(name="Ann", email="ann@example.com"),
            group_id=carried.id,
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        found = await uow.tickets.get(ticket.id)
        assert found is not None
        assert found.group is not None
        assert found.group.name == "service-desk"


@pytest.mark.parametrize("how", ["orm", "core", "cursor"])
async def test_a_configuration_write_makes_the_next_units_read_afresh(
    factory: SessionFactory, how: str
) -> None:
    vpn, _ = await _desk(factory)
    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        await _read_all(uow, vpn)
        await uow.commit()
    assert len(carry) > 0
    async with UnitOfWork(factory, carry=carry) as uow:
        await _read_all(uow, vpn)  # answered from the carrier, then changed below
        if how == "orm":
            uow.session.add(Group(name="network", is_default=False))
        elif how == "core":
            await uow.session.execute(update(Group).values(name="front-desk"))
        else:
            await uow.cursors.set("group.language.1", "de")
        await uow.commit()
    assert len(carry) == 0
    seen = _count_statements(factory)
    async with UnitOfWork(factory, carry=carry) as uow:
        after = await _read_all(uow, vpn)
        await uow.commit()
    assert _reads_of(seen, "groups") == 1
    assert _reads_of(seen, "services") == 1
    if how == "core":
        assert after["group"] == ("front-desk", True)
    if how == "cursor":
        assert after["language"] == "de"


async def _failing(factory: SessionFactory, carry: CarriedConfig, *, change: bool) -> None:
    """A unit of work that reads (and changes, with `change`) configuration, then fails."""
    async with UnitOfWork(factory, carry=carry) as uow:
        group = await uow.desk.default_group()
        assert group is not None
        assert await uow.desk.service_levels()
        await uow.services.all()
        if change:
            group.name = "changed, never committed"
            group.oncall = {"changed": True}
            await uow.session.flush()
        raise RuntimeError("the run failed")


async def test_a_failed_unit_hands_nothing_on_and_spoils_nothing(factory: SessionFactory) -> None:
    vpn, _ = await _desk(factory)
    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        await uow.desk.default_group()
        await uow.commit()
    # A unit of work that reads more, and fails.
    with pytest.raises(RuntimeError):
        await _failing(factory, carry, change=False)
    # One that rolls back what it read.
    async with UnitOfWork(factory, carry=carry) as uow:
        await uow.desk.calendars()
        await uow.alerts.upstream(vpn)
        await uow.rollback()
    seen = _count_statements(factory)
    async with UnitOfWork(factory, carry=carry) as uow:
        group = await uow.desk.default_group()
        assert group is not None
        assert group.name == "service-desk"
        assert [s.name for s in await uow.desk.service_levels()] == ["gold"]
        await uow.services.all()
        await uow.desk.calendars()
        await uow.commit()
    assert _reads_of(seen, "groups") == 0, "carried from the unit that committed"
    assert _reads_of(seen, "service_levels") == 1, "the failed unit's read was not kept"
    assert _reads_of(seen, "services") == 1
    assert _reads_of(seen, "calendars") == 1


async def test_a_carried_row_changed_by_a_failed_unit_is_carried_as_committed(
    factory: SessionFactory,
) -> None:
    await _desk(factory)
    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        await uow.desk.default_group()
        await uow.commit()
    with pytest.raises(RuntimeError):
        await _failing(factory, carry, change=True)
    async with UnitOfWork(factory, carry=carry) as uow:
        group = await uow.desk.default_group()
        assert group is not None
        assert (group.name, group.oncall) == ("service-desk", None)


async def test_rows_of_other_tables_are_not_carried(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.create(name="Alice", email="alice@example.com")
        vpn = Service(name="VPN")
        uow.session.add(vpn)
        await uow.session.flush()
        problem = await uow.tickets.create(
            kind=TicketKind.PROBLEM, title="Tunnel drops", requester=alice, service_id=vpn.id
        )
        (await uow.problems.record(problem)).stage = ProblemStage.KNOWN_ERROR
        await uow.commit()
    carry = CarriedConfig()
    seen = _count_statements(factory)
    for _ in range(2):
        async with UnitOfWork(factory, carry=carry) as uow:
            assert [k.problem_id for k in await uow.problems.known_errors(vpn.id)] == [problem.id]
            await uow.commit()
    # Known errors are tickets, which messages change: read by each unit of work.
    assert _reads_of(seen, "tickets") == 2


async def test_a_unit_that_goes_on_after_its_commit_still_hands_on_and_forgets(
    factory: SessionFactory,
) -> None:
    vpn, _ = await _desk(factory)
    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        await _read_all(uow, vpn)
        await uow.commit()
        assert len(carry) > 0
        uow.session.add(Group(name="network"))
        await uow.commit()
    assert len(carry) == 0
    async with UnitOfWork(factory, carry=carry) as uow:
        assert await uow.desk.named(Group, "network") is not None
        await uow.commit()
    assert len(carry) == 1


async def test_a_change_made_in_place_does_not_reach_the_next_unit(
    factory: SessionFactory,
) -> None:
    await _desk(factory)
    async with UnitOfWork(factory) as uow:
        await uow.session.execute(update(Group).values(oncall={"rota": ["ann"]}))
        await uow.commit()
    carry = CarriedConfig()
    for _ in range(3):
        async with UnitOfWork(factory, carry=carry) as uow:
            group = await uow.desk.default_group()
            assert group is not None
            assert group.oncall == {"rota": ["ann"]}
            # Untracked, so never written: the next unit must not see it either.
            group.oncall["rota"].append("bob")
            await uow.commit()


async def test_a_service_found_by_name_is_the_only_one_attached(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        uow.session.add_all(
            [
                Service(name="VPN", aliases=["remote access"]),
                Service(name="Email", aliases=["vpn", "mail"]),
                Service(name="Network"),
            ]
        )
        await uow.commit()
    seen = _count_statements(factory)
    carry = CarriedConfig()
    for run in range(3):
        async with UnitOfWork(factory, carry=carry) as uow:
            # A name wins over another service's alias; an alias finds its service.
            found = await uow.services.by_name(" vpn ")
            assert found is not None
            assert found.name == "VPN"
            by_alias = await uow.services.by_name("MAIL")
            assert by_alias is not None
            assert by_alias.name == "Email"
            assert await uow.services.by_name("printer") is None
            held = list(uow.session.sync_session.identity_map.values())
            services = sorted(o.name for o in held if isinstance(o, Service))
            # The first unit read them all; the others attach only what they found.
            assert services == (["Email", "Network", "VPN"] if run == 0 else ["Email", "VPN"])
            await uow.commit()
    assert _reads_of(seen, "services") == 1


async def test_each_unit_gets_its_own_copy_of_a_carried_plain_answer(
    factory: SessionFactory,
) -> None:
    answers = {
        "flat": {"vpn": 1, "mail": 2},
        "nested": {"vpn": [1, 2], "mail": {"ids": [3]}},
        "rows": ["a", "b"],
        "fixed": ("a", frozenset({1})),
        "pairs": (("a", 1), ("b", [2])),
    }
    reads: list[str] = []

    def loader(name: str) -> Any:
        async def load() -> Any:
            reads.append(name)
            return copy.deepcopy(answers[name])

        return load

    carry = CarriedConfig()
    for run in range(3):
        async with UnitOfWork(factory, carry=carry) as uow:
            memo = ConfigMemo(uow.session, "test")
            for name, expected in answers.items():
                got = await memo.get(name, loader(name))
                assert got == expected, (run, name)
                # Asked again in the same unit: the same object, as the memo keeps it.
                assert await memo.get(name, loader(name)) is got
            # Changed in place by this unit's reader: the next unit must not see it.
            (await memo.get("flat", loader("flat")))["vpn"] = 99
            (await memo.get("nested", loader("nested")))["mail"]["ids"].append(4)
            (await memo.get("rows", loader("rows"))).append("c")
            (await memo.get("pairs", loader("pairs")))[1][1].append(3)
            await uow.commit()
    assert sorted(reads) == sorted(answers), "read once, by the first unit"


async def test_a_carried_row_comes_with_its_loaded_relationship_and_no_sql(
    factory: SessionFactory,
) -> None:
    async with UnitOfWork(factory) as uow:
        group = Group(name="network-team", oncall={"rota": ["ann"]})
        uow.session.add(group)
        await uow.session.flush()
        uow.session.add(Service(name="VPN", owner_group_id=group.id, aliases=["remote"]))
        await uow.commit()

    async def load_with_owner(uow: UnitOfWork) -> Service | None:
        stmt = select(Service).options(selectinload(Service.owner_group))
        return (await uow.session.scalars(stmt)).first()

    carry = CarriedConfig()
    async with UnitOfWork(factory, carry=carry) as uow:
        first = await ConfigMemo(uow.session, "test").get("vpn", lambda: load_with_owner(uow))
        assert first is not None
        await uow.commit()
    seen = _count_statements(factory)
    for _ in range(2):
        async with UnitOfWork(factory, carry=carry) as uow:
            memo = ConfigMemo(uow.session, "test")
            vpn = await memo.get("vpn", lambda: load_with_owner(uow))
            assert vpn is not None
            assert inspect(vpn).persistent
            assert inspect(vpn).session is uow.session.sync_session
            assert not inspect(vpn).expired_attributes
            owner = vpn.owner_group
            assert owner is not None
            assert (owner.name, owner.oncall) == ("network-team", {"rota": ["ann"]})
            assert inspect(owner).session is uow.session.sync_session
            # The session's own object of that identity: a query in this unit finds it.
            assert await uow.desk.named(Group, "network-team") is owner
            assert vpn not in uow.session.dirty
            vpn.aliases.append("changed in place, never written")
            owner.oncall["rota"].append("bob")
            await uow.commit()
    assert _reads_of(seen, "services") == 0
    # The group by name is another answer: read by the first of these units, then carried.
    assert _reads_of(seen, "groups") == 1
