"""`switchboard import`: the desk file applied in one transaction, errors naming file, entry, field."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.desk.applied import Change
from bot.desk.apply import apply
from bot.desk.files import DeskError, read
from store.db import SessionFactory
from store.models import BusinessCalendar, Group, Service, ServiceLevel, Supplier
from store.uow import UnitOfWork
from tests.unit.desks import write

EXAMPLE = Path(__file__).parents[3] / "deploy" / "desk.example.yml"

BRIEF = """
people:
  - {name: Bob Agent, email: bob@example.com, roles: [agent]}
  - {name: Erin Agent, email: erin@example.com, roles: [agent], groups: [desk-side]}
groups:
  - {name: service-desk, lead: bob@example.com, slack_channel: C0DESK, telegram_chat: "-1001234"}
  - {name: network, members: [erin@example.com], slack_channel: C0NET, auto_assign: true}
calendars:
  - {name: office, timezone: Europe/Berlin, hours: "Mon-Fri 08:00-18:00", holidays: ["2026-12-25"]}
  - {name: 24x7, timezone: UTC, hours: "Mon-Sun 00:00-24:00"}
slas:
  - name: standard
    applies_to: {kind: incident}
    calendar: office
    targets: {P1: {response: 15m, resolve: 4h}, P2: {response: 1h, resolve: 8h}, P3: {response: 4h, resolve: 3d}}
  - {name: acme-gold, applies_to: {organisation: Acme, kind: incident}, calendar: 24x7, targets: {P1: {response: 10m, resolve: 2h}, P2: {response: 30m, resolve: 4h}}}
suppliers:
  - {name: NetCo, contract: UC-7, services: [WAN], targets: {P1: {response: 30m, resolve: 6h}}, contact: {email: noc@netco.example}}
services:
  - {name: WAN, criticality: critical, owner_group: network, supplier: NetCo}
  - {name: VPN, criticality: high, owner_group: network, aliases: [remote access, globalprotect], depends_on: [WAN]}
"""


async def run(factory: SessionFactory, *paths: Path, commit: bool = True) -> list[Change]:
    desk = read(paths)
    async with UnitOfWork(factory) as uow:
        changes = await apply(uow, desk)
        if commit:
            await uow.commit()
    return changes


async def test_the_example_of_the_brief_imports_and_is_idempotent(
    factory: SessionFactory, tmp_path: Path
) -> None:
    path = write(tmp_path, BRIEF)
    first = await run(factory, path)
    assert {c.action for c in first} == {"create"}
    assert len(first) == 11
    again = await run(factory, path)
    assert {c.action for c in again} == {"unchanged"}, again
    async with UnitOfWork(factory) as uow:
        network = await uow.desk.named(Group, "network")
        assert network is not None
        assert network.auto_assign
        assert network.slack_channel == "C0NET"
        [erin] = await uow.desk.members(network.id)
        assert erin.name == "Erin Agent"
        erin_full = await uow.people.get_full(erin.person_id)
        assert erin_full is not None
        # Group `members:` add to the person's own `groups:`.
        assert {m.group.name for m in erin_full.memberships} == {"desk-side", "network"}
        desk_group = await uow.desk.default_group()
        assert desk_group is not None
        assert desk_group.name == "service-desk"
        bob = await uow.people.by_email("bob@example.com")
        assert bob is not None
        assert desk_group.lead_id == bob.id
        assert desk_group.telegram_chat == "-1001234"
        wan = await uow.desk.named(Service, "wan")
        netco = await uow.desk.named(Supplier, "NetCo")
        assert wan is not None
        assert netco is not None
        assert wan.supplier_id == netco.id
        assert await uow.desk.links() == [("VPN", "depends_on", "WAN")]
        vpn = await uow.services.by_name("globalprotect")
        assert vpn is not None
        assert vpn.owner_group_id == network.id
        gold = await uow.desk.named(ServiceLevel, "acme-gold")
        assert gold is not None
        assert gold.organisation == "Acme"
        assert gold.targets == {
            "P1": {"response": "10m", "resolve": "2h"},
            "P2": {"response": "30m", "resolve": "4h"},
        }
        assert gold.calendar is not None
        assert gold.calendar.name == "24x7"


async def test_changes_name_the_fields_that_changed(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(factory, write(tmp_path, BRIEF))
    edited = BRIEF.replace(
        "criticality: high, owner_group: network", "criticality: low, owner_group: service-desk"
    )
    edited = edited.replace("Bob Agent", "Robert Agent")
    changes = {(c.section, c.name): c for c in await run(factory, write(tmp_path, edited))}
    assert changes[("services", "VPN")].action == "update"
    assert set(changes[("services", "VPN")].fields) == {"criticality", "owner_group_id"}
    assert changes[("people", "bob@example.com")].fields == ("name",)
    assert changes[("services", "WAN")].action == "unchanged"


async def test_a_dry_run_applies_nothing(factory: SessionFactory, tmp_path: Path) -> None:
    changes = await run(factory, write(tmp_path, BRIEF), commit=False)
    assert len(changes) == 11
    async with UnitOfWork(factory) as uow:
        assert await uow.desk.names(Group) == set()
        assert await uow.people.count() == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("owner_group: network, supplier", "owner_group: netwerk, supplier"),
            "services #1 (WAN): `owner_group`: unknown group 'netwerk'",
        ),
        (
            ("members: [erin@example.com]", "members: [zoe@example.com]"),
            "groups #2 (network): `members.0`: unknown person 'zoe@example.com'",
        ),
        (
            ("lead: bob@example.com", "lead: nobody@example.com"),
            "groups #1 (service-desk): `lead`: unknown person",
        ),
        (
            ("calendar: 24x7,", "calendar: 25x8,"),
            "slas #2 (acme-gold): `calendar`: unknown calendar '25x8'",
        ),
        (("supplier: NetCo}", "supplier: NetCorp}"), "`supplier`: unknown supplier 'NetCorp'"),
        (
            ("services: [WAN]", "services: [LAN]"),
            "suppliers #1 (NetCo): `services.0`: unknown service 'LAN'",
        ),
        (
            (
                "applies_to: {organisation: Acme, kind: incident}",
                "applies_to: {organisation: Acme}",
            ),
            "slas #2 (acme-gold): `applies_to`: covers the same tickets as ",
        ),
        (
            ("resolve: 3d", "resolve: 3 days"),
            "slas #1 (standard): `targets.P3.resolve`: '3 days' is not a duration",
        ),
        (
            ("timezone: Europe/Berlin", "timezone: Europe/Bonn"),
            "calendars #1 (office): `timezone`: time zone 'Europe/Bonn' does not exist",
        ),
        (
            ('hours: "Mon-Fri 08:00-18:00"', 'hours: "Mon-Fri 18:00-08:00"'),
            "calendars #1 (office): `hours`: '18:00-08:00' ends before it starts",
        ),
        (
            (
                "name: WAN, criticality: critical, owner_group: network,",
                "name: WAN, criticality: critical, owner_group: network, depends_on: [VPN],",
            ),
            "services #1 (WAN): `depends_on`: a cycle: wan → vpn → wan",
        ),
        (
            ("criticality: critical", "criticality: vital"),
            "services #1 (WAN): `criticality`: Input should be",
        ),
        (
            ("auto_assign: true", "auto_asign: true"),
            "groups #2 (network): `auto_asign` is not a known key",
        ),
        (
            ("{name: Bob Agent, email: bob@example.com", "{name: Bob Agent, email: bob"),
            "people #1 (bob): `email`: 'bob' is not an email address",
        ),
    ],
)
async def test_bad_entries_are_refused_with_file_entry_and_field(
    factory: SessionFactory, tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    assert edit[0] in BRIEF
    path = write(tmp_path, BRIEF.replace(*edit, 1))
    with pytest.raises(DeskError) as caught:
        await run(factory, path)
    assert any(p.startswith(str(path)) and message in p for p in caught.value.problems), (
        caught.value.problems
    )
    async with UnitOfWork(factory) as uow:
        assert await uow.people.count() == 0
        assert await uow.desk.names(BusinessCalendar) == set()


async def test_one_identity_for_two_people_is_refused(
    factory: SessionFactory, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "people:\n  - {name: A, email: a@example.com, slack: U1}\n"
        "  - {name: B, email: b@example.com, identities: {slack: U1}}\n",
    )
    with pytest.raises(DeskError, match=r"people #2 \(b@example.com\): `identities.slack`: U1"):
        await run(factory, path)


async def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "people: [{name: A, email: x}]\ncalendars: [{name: c, timezone: Nowhere, hours: Mon}]\nwhatever: 1\n",
    )
    with pytest.raises(DeskError) as caught:
        read([path])
    assert len(caught.value.problems) == 4, caught.value.problems
    assert any("unknown key `whatever`" in p for p in caught.value.problems)


async def test_names_refer_across_files_and_to_the_database(
    factory: SessionFactory, tmp_path: Path
) -> None:
    groups = write(tmp_path, "groups: [{name: network}]\n", "groups.yml")
    services = write(tmp_path, "services: [{name: VPN, owner_group: network}]\n", "services.yml")
    await run(factory, groups, services)
    later = write(
        tmp_path,
        "services: [{name: Wi-Fi, owner_group: Network, depends_on: [vpn]}]\n",
        "later.yml",
    )
    await run(factory, later)
    async with UnitOfWork(factory) as uow:
        assert ("Wi-Fi", "depends_on", "VPN") in await uow.desk.links()


async def test_an_entry_given_twice_is_refused(tmp_path: Path) -> None:
    a = write(tmp_path, "groups: [{name: network}]\n", "a.yml")
    b = write(tmp_path, "groups: [{name: Network}]\n", "b.yml")
    with pytest.raises(
        DeskError, match=r"b.yml: groups #1 \(Network\): already given at .*a.yml: groups #1"
    ):
        read([a, b])


async def test_a_cycle_through_the_database_is_refused(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(
        factory, write(tmp_path, "services: [{name: A}, {name: B, depends_on: [A]}]\n", "one.yml")
    )
    with pytest.raises(DeskError, match="a cycle: a → b → a"):
        await run(factory, write(tmp_path, "services: [{name: A, depends_on: [B]}]\n", "two.yml"))


async def test_tie_with_an_agreement_already_in_use(
    factory: SessionFactory, tmp_path: Path
) -> None:
    await run(
        factory,
        write(
            tmp_path,
            "slas: [{name: one, applies_to: {kind: incident}, targets: {P1: {resolve: 4h}}}]\n",
            "one.yml",
        ),
    )
    with pytest.raises(DeskError, match="covers the same tickets as 'one' \\(in use\\)"):
        await run(
            factory,
            write(
                tmp_path,
                "slas: [{name: two, applies_to: {organisation: Acme}, targets: {P1: {resolve: 4h}}}]\n",
                "two.yml",
            ),
        )


def test_every_key_of_the_desk_file_is_applied() -> None:
    from bot.desk.schema import LATER, SECTIONS, SETTINGS

    documented = {
        "people", "groups", "services", "configuration_items", "calendars", "slas",
        "suppliers", "catalog", "standard_changes", "freeze_windows", "thresholds",
        "slack_help_channels",
    }  # fmt: skip
    assert documented <= set(SECTIONS) | set(SETTINGS)
    assert not LATER


async def test_every_section_is_read_without_warnings(tmp_path: Path) -> None:
    from bot.desk.schema import SECTIONS

    text = "".join(f"{section}: []\n" for section in SECTIONS) + "groups: [{name: g}]\n"
    desk = read([write(tmp_path, text.replace("groups: []\n", ""))])
    assert desk.warnings == []
    assert desk.count() == 1


async def test_csv_of_people_and_of_services(factory: SessionFactory, tmp_path: Path) -> None:
    people = write(
        tmp_path,
        "name,email,roles,groups,skills,slack,organisation,language,devices\n"
        "Dee,dee@example.com,agent,network,vpn;wan,U0DEE,Acme,zh,LT-1|LT-2\n",
        "people.csv",
    )
    services = write(
        tmp_path,
        "name,criticality,owner_group,aliases,depends_on\nWAN,critical,network,,\nVPN,High,network,remote access;gp,WAN\n",
        "services.csv",
    )
    await run(factory, people, services)
    async with UnitOfWork(factory) as uow:
        dee = await uow.people.by_email("dee@example.com")
        assert dee is not None
        assert (dee.organisation, dee.language, dee.devices) == ("Acme", "zh", ["LT-1", "LT-2"])
        vpn = await uow.services.by_name("gp")
        assert vpn is not None
        assert vpn.criticality.value == "high"
        assert await uow.desk.links() == [("VPN", "depends_on", "WAN")]
    bad = write(tmp_path, "name,criticality\nWAN,vital\n", "services.csv")
    with pytest.raises(DeskError, match=r"services.csv: services #2 \(WAN\): `criticality`"):
        read([bad])


async def test_the_fuller_example_imports(factory: SessionFactory) -> None:
    changes = await run(factory, EXAMPLE)
    assert {c.action for c in changes} == {"create"}
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        bob = await uow.people.by_email("bob@example.com")
        assert alice is not None
        assert bob is not None
        assert alice.manager_id == bob.id
        network = await uow.desk.named(Group, "network")
        assert network is not None
        assert network.oncall is not None
        assert network.oncall["dates"] == [
            {"from": "2026-12-24", "to": "2026-12-27", "person": "wei@example.com"}
        ]
        rows = list(
            await uow.session.scalars(select(ServiceLevel.name).order_by(ServiceLevel.name))
        )
        assert rows == ["acme-gold", "requests", "standard"]
