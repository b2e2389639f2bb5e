"""Checks across entries: every name points at something, agreements do not tie, no cycles.

A name is known when the files give it or the database already has it, so a file may refer
to groups or people imported earlier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.desk.catalog_schema import CatalogEntry
from bot.desk.cmdb_schema import ServiceEntry
from bot.desk.files import Desk, Item
from bot.desk.schema import GroupEntry, PersonEntry, SlaEntry, SupplierEntry
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS
from store.enums import TicketKind
from store.models import BusinessCalendar, Group, Service, Supplier
from store.uow import UnitOfWork


async def check(uow: UnitOfWork, desk: Desk) -> list[str]:
    """Every problem that spans entries, each naming the entry at fault."""
    people = await uow.desk.emails() | {e.email for e in desk.entries("people")}
    groups = (
        await uow.desk.names(Group)
        | {g.name.casefold() for g in desk.entries("groups")}
        # A person's own `groups:` create the groups they name, as the directory always has.
        | {g.casefold() for p in desk.entries("people") for g in p.groups}
    )
    calendars = await uow.desk.names(BusinessCalendar) | _names(desk, "calendars")
    suppliers = await uow.desk.names(Supplier) | _names(desk, "suppliers")
    services = (
        await uow.desk.names(Service)
        | _names(desk, "services")
        | _names(desk, "configuration_items")
    )

    problems: list[str] = []

    def need(item: Item, field: str, value: str | None, known: set[str], what: str) -> None:
        if value is not None and value.casefold() not in known:
            problems.append(f"{item.where}: `{field}`: unknown {what} {value!r}")

    owners: dict[tuple[str, str], Item] = {}
    for item in desk.items["people"]:
        p: PersonEntry = item.entry  # type: ignore[assignment]
        need(item, "manager", p.manager, people, "person")
        for platform, external_id in p.identities.items():
            first = owners.setdefault((platform, external_id), item)
            if first is not item:
                problems.append(
                    f"{item.where}: `identities.{platform}`: {external_id} is also given to "
                    f"{first.where}"
                )
        if p.manager == p.email:
            problems.append(f"{item.where}: `manager`: a person cannot manage themselves")
    for item in desk.items["groups"]:
        g: GroupEntry = item.entry  # type: ignore[assignment]
        need(item, "lead", g.lead, people, "person")
        for i, m in enumerate(g.members):
            need(item, f"members.{i}", m, people, "person")
        if g.oncall is not None:
            for i, m in enumerate(g.oncall.weekly):
                need(item, f"oncall.weekly.{i}", m, people, "person")
            for i, d in enumerate(g.oncall.dates):
                need(item, f"oncall.dates.{i}.person", d.person, people, "person")
            need(item, "oncall.calendar", g.oncall.calendar, calendars, "calendar")
    defaults = [i for i in desk.items["groups"] if i.entry.default]  # type: ignore[attr-defined]
    for extra in defaults[1:]:
        problems.append(f"{extra.where}: `default`: only one group can be the service desk")
    for item in desk.items["slas"]:
        s: SlaEntry = item.entry  # type: ignore[assignment]
        need(item, "calendar", s.calendar, calendars, "calendar")
        need(item, "applies_to.service", s.applies_to.service, services, "service")
    for item in desk.items["suppliers"]:
        sup: SupplierEntry = item.entry  # type: ignore[assignment]
        need(item, "calendar", sup.calendar, calendars, "calendar")
        for i, name in enumerate(sup.services):
            need(item, f"services.{i}", name, services, "service")
    supplied_by = {
        name.casefold(): item
        for item in desk.items["suppliers"]
        for name in item.entry.services  # type: ignore[attr-defined]
    }
    first_given: dict[str, Item] = {}
    for item in desk.items_of_cmdb():
        first = first_given.setdefault(item.key, item)
        if first is not item and first.section != item.section:
            problems.append(f"{item.where}: already given at {first.where}")
    for item in desk.items_of_cmdb():
        svc: ServiceEntry = item.entry  # type: ignore[assignment]
        need(item, "owner_group", svc.owner_group, groups, "group")
        need(item, "supplier", svc.supplier, suppliers, "supplier")
        need(item, "part_of", svc.part_of, services, "configuration item")
        for field in ("depends_on", "runs_on"):
            for i, name in enumerate(getattr(svc, field)):
                need(item, f"{field}.{i}", name, services, "configuration item")
        other = supplied_by.get(svc.name.casefold())
        if (
            other is not None
            and svc.supplier is not None
            and svc.supplier.casefold() != other.entry.name.casefold()  # type: ignore[attr-defined]
        ):
            problems.append(
                f"{item.where}: `supplier`: {svc.supplier!r}, but {other.where} lists this service"
            )
    for section in ("standard_changes", "freeze_windows"):
        for item in desk.items[section]:
            for i, name in enumerate(item.entry.services):  # type: ignore[attr-defined]
                need(item, f"services.{i}", name, services, "configuration item")
    for item in desk.items["catalog"]:
        cat: CatalogEntry = item.entry  # type: ignore[assignment]
        need(item, "approval.group", cat.approval.group, groups, "group")
        need(item, "fulfilment.group", cat.fulfilment.group, groups, "group")
        for i, step in enumerate(cat.approvals):
            need(item, f"approvals.{i}.group", step.group, groups, "group")
        for i, task in enumerate(cat.fulfilment.tasks):
            need(item, f"fulfilment.tasks.{i}.group", task.group, groups, "group")
    for item in desk.items["change_boards"]:
        need(item, "group", item.entry.group, groups, "group")  # type: ignore[attr-defined]
        for i, name in enumerate(item.entry.services):  # type: ignore[attr-defined]
            need(item, f"services.{i}", name, services, "configuration item")
    problems.extend(await _cycles(uow, desk))
    problems.extend(await _ties(uow, desk))
    return problems


def _names(desk: Desk, section: str) -> set[str]:
    return {e.name.casefold() for e in desk.entries(section)}


async def _cycles(uow: UnitOfWork, desk: Desk) -> list[str]:
    """`depends_on`, `runs_on` and `part_of` must not lead back to where they started."""
    given = {i.entry.name.casefold(): i for i in desk.items_of_cmdb()}  # type: ignore[attr-defined]
    edges: dict[str, set[str]] = {}
    stored = [*await uow.desk.links(), *await uow.cmdb.parents()]
    for source, _, target in stored:
        if source.casefold() not in given:
            edges.setdefault(source.casefold(), set()).add(target.casefold())
    for key, item in given.items():
        svc: ServiceEntry = item.entry  # type: ignore[assignment]
        targets = [*svc.depends_on, *svc.runs_on, *([svc.part_of] if svc.part_of else [])]
        edges[key] = {t.casefold() for t in targets}
    problems = []
    for key, item in given.items():
        loop = _loop_from(key, edges)
        if loop is not None:
            path = " → ".join(loop)
            problems.append(f"{item.where}: `{_relation(item, loop)}`: a cycle: {path}")
    return problems


def _relation(item: Item, loop: list[str]) -> str:
    """The field of the entry whose first step starts the loop."""
    svc: ServiceEntry = item.entry  # type: ignore[assignment]
    step = loop[1]
    for field in ("depends_on", "runs_on"):
        if step in {n.casefold() for n in getattr(svc, field)}:
            return field
    return "part_of"


def _loop_from(start: str, edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A path from `start` back to itself, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(edges.get(node, ())):
            if nxt == start:
                return [*path, nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


async def _ties(uow: UnitOfWork, desk: Desk) -> list[str]:
    """Agreements of equal specificity that would both cover some ticket."""
    given = {i.entry.name.casefold(): i for i in desk.items["slas"]}  # type: ignore[attr-defined]
    scopes: list[tuple[sla.Policy, str]] = []
    for row in await uow.desk.service_levels():
        if row.name.casefold() not in given:
            scope = sla.AppliesTo(row.organisation, row.kind, row.service)
            scopes.append((sla.Policy(row.name, scope, ALWAYS, {}), f"{row.name!r} (in use)"))
    for item in given.values():
        s: SlaEntry = item.entry  # type: ignore[assignment]
        kind = TicketKind(s.applies_to.kind) if s.applies_to.kind else None
        scope = sla.AppliesTo(s.applies_to.organisation, kind, s.applies_to.service)
        scopes.append((sla.Policy(s.name, scope, ALWAYS, {}), item.where))
    where = {id(p): w for p, w in scopes}
    return [
        f"{where[id(b)]}: `applies_to`: covers the same tickets as {where[id(a)]} "
        "with equal specificity; make one of them more specific"
        for a, b in sla.conflicts(p for p, _ in scopes)
    ]
