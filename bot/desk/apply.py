"""Writing a checked desk into the database, entry by entry, saying what changed.

Everything happens inside the caller's unit of work: the caller commits, or (for a dry run,
or after any error) leaves without committing and nothing is applied. The directory, teams,
calendars, suppliers, services and agreements are applied here; the catalog, the change
calendar and the settings by `bot.desk.apply_catalog`, `bot.desk.apply_calendar` and
`bot.desk.apply_settings`.
"""

from __future__ import annotations

from typing import Any

from bot.desk.applied import Change, change_of
from bot.desk.apply_calendar import apply_change_calendar
from bot.desk.apply_catalog import apply_catalog_item
from bot.desk.apply_settings import apply_help_channels, apply_thresholds
from bot.desk.check import check
from bot.desk.cmdb_schema import ServiceEntry
from bot.desk.files import Desk, DeskError
from bot.desk.schema import CalendarEntry, GroupEntry, PersonEntry, SlaEntry, Targets
from bot.directory import DirectoryError, import_people
from handlers.replies import group_language_key
from store.cmdb import diff
from store.models import BusinessCalendar, Group, Person, Service, ServiceLevel, Supplier
from store.uow import UnitOfWork


def _targets(targets: Targets) -> dict[str, Any]:
    return {p.value: t.model_dump(exclude_none=True) for p, t in sorted(targets.items())}


async def apply(uow: UnitOfWork, desk: Desk) -> list[Change]:
    """Upsert every entry by its natural key, in an order where references resolve."""
    problems = await check(uow, desk)
    if problems:
        raise DeskError(problems)
    changes: list[Change] = []
    calendars: dict[str, int] = {}
    for c in desk.entries("calendars"):
        row, changed = await _calendar(uow, c)
        calendars[c.name.casefold()] = row.id
        changes.append(change_of("calendars", c.name, changed))
    group_changes: dict[str, list[str]] = {}
    for g in desk.entries("groups"):
        group, changed = await uow.desk.upsert(
            Group,
            g.name,
            description=g.description,
            slack_channel=g.slack_channel,
            telegram_chat=g.telegram_chat,
            auto_assign=g.auto_assign,
            is_default=g.default,
            oncall=g.oncall.model_dump(mode="json", by_alias=True) if g.oncall else None,
        )
        key = group_language_key(group.id)
        if (await uow.cursors.get(key) or "") != (g.language or ""):
            await uow.cursors.set(key, g.language or "")
            changed.append("language")
        group_changes[g.name] = changed
    changes.extend(await _people(uow, _with_members(desk)))
    for g in desk.entries("groups"):
        group_changes[g.name] += await _group_people(uow, g)
        changes.append(change_of("groups", g.name, group_changes[g.name]))
    await _one_default(uow, desk)
    for s in desk.entries("suppliers"):
        cal = await _calendar_id(uow, calendars, s.calendar)
        _, changed = await uow.desk.upsert(
            Supplier,
            s.name,
            contract=s.contract,
            calendar_id=cal,
            targets=_targets(s.targets),
            contact=s.contact.model_dump(exclude_none=True),
        )
        changes.append(change_of("suppliers", s.name, changed))
    changes.extend(await _services(uow, desk))
    for a in desk.entries("slas"):
        changes.append(await _agreement(uow, calendars, a))
    if desk.help_channels is not None:
        changes.append(await apply_help_channels(uow, desk.help_channels))
    thresholds = [t.stored() for t in desk.entries("thresholds")]
    if thresholds:
        changes.append(await apply_thresholds(uow, thresholds))
    for item in desk.entries("catalog"):
        changes.append(await apply_catalog_item(uow, item))
    changes.extend(await apply_change_calendar(uow, desk))
    return changes


async def _calendar(uow: UnitOfWork, c: CalendarEntry) -> tuple[BusinessCalendar, list[str]]:
    return await uow.desk.upsert(
        BusinessCalendar,
        c.name,
        timezone=c.timezone,
        hours=list(c.hours),
        holidays=sorted(d.isoformat() for d in c.holidays),
    )


async def _calendar_id(uow: UnitOfWork, known: dict[str, int], name: str | None) -> int | None:
    if name is None:
        return None
    if name.casefold() in known:
        return known[name.casefold()]
    row = await uow.desk.named(BusinessCalendar, name)
    assert row is not None, "check() resolved every calendar name"
    return row.id


def _with_members(desk: Desk) -> list[PersonEntry]:
    """People whose groups include those whose `members:` name them.

    The directory loader sets a person's groups to exactly what it is given, so the groups'
    lists are merged in first; applying them afterwards would churn on every import.
    """
    joined: dict[str, list[str]] = {}
    for g in desk.entries("groups"):
        for email in g.members:
            joined.setdefault(email, []).append(g.name)
    return [
        p.model_copy(update={"groups": tuple(dict.fromkeys([*p.groups, *joined.get(p.email, [])]))})
        for p in desk.entries("people")
    ]


async def _people(uow: UnitOfWork, people: list[PersonEntry]) -> list[Change]:
    """Through the directory's own loader, noting first what will differ."""
    changes = []
    for p in people:
        found = await uow.people.by_email(p.email)
        full = await uow.people.get_full(found.id) if found else None
        if full is None:
            changes.append(Change("people", p.email, "create"))
            continue
        changes.append(change_of("people", p.email, await _person_diff(uow, full, p)))
    try:
        await import_people(uow, people)
    except DirectoryError as e:
        raise DeskError([str(e)]) from e
    return changes


async def _person_diff(uow: UnitOfWork, have: Person, want: PersonEntry) -> list[str]:
    manager = await uow.people.get(have.manager_id) if have.manager_id else None
    bound = {i.platform: i.external_id for i in have.identities}
    now: dict[str, object] = {
        "name": have.name,
        "roles": set(have.role_set),
        "groups": {m.group.name for m in have.memberships},
        "skills": {s.skill for s in have.skills},
        "identities": bound,
        "manager": manager.email if manager else None,
        "language": have.language,
        "organisation": have.organisation,
        "devices": list(have.devices or []),
    }
    then = {
        "name": want.name,
        "roles": set(want.roles),
        "groups": set(want.groups),
        "skills": set(want.skills),
        # Identities the file does not name stay bound: compare only those it names.
        "identities": {**bound, **want.identities},
        "manager": want.manager,
        "language": want.language,
        "organisation": want.organisation,
        "devices": list(want.devices),
    }
    return [k for k in now if now[k] != then[k]]


async def _group_people(uow: UnitOfWork, g: GroupEntry) -> list[str]:
    group = await uow.desk.named(Group, g.name)
    assert group is not None
    changed = []
    lead = await uow.people.by_email(g.lead) if g.lead else None
    if group.lead_id != (lead.id if lead else None):
        group.lead_id = lead.id if lead else None
        changed.append("lead")
    for email in g.members:
        person = await uow.people.by_email(email)
        assert person is not None, "check() resolved every member"
        if await uow.desk.add_member(group, person):
            changed.append("members")
    return changed


async def _one_default(uow: UnitOfWork, desk: Desk) -> None:
    """A file that names the service desk group takes the mark from any other group."""
    chosen = [g.name for g in desk.entries("groups") if g.default]
    if not chosen:
        return
    for name in await uow.desk.names(Group):
        if name != chosen[0].casefold():
            group = await uow.desk.named(Group, name)
            if group is not None and group.is_default:
                group.is_default = False


async def _services(uow: UnitOfWork, desk: Desk) -> list[Change]:
    """Services and configuration items, each change also an event in the item's history."""
    items = desk.items_of_cmdb()
    entries: list[ServiceEntry] = [i.entry for i in items]  # type: ignore[misc]
    supplier_of = {
        name.casefold(): s.name for s in desk.entries("suppliers") for name in s.services
    }
    before: dict[str, dict[str, Any] | None] = {}
    for svc in entries:
        row = await uow.desk.named(Service, svc.name)
        before[svc.name] = await uow.cmdb.snapshot(row) if row is not None else None
    found: dict[str, list[str]] = {}
    for svc in entries:
        owner = await uow.desk.named(Group, svc.owner_group) if svc.owner_group else None
        supplier_name = svc.supplier or supplier_of.get(svc.name.casefold())
        supplier = await uow.desk.named(Supplier, supplier_name) if supplier_name else None
        _, changed = await uow.desk.upsert(
            Service,
            svc.name,
            type=svc.type,
            criticality=svc.criticality,
            description=svc.description,
            owner_group_id=owner.id if owner else None,
            aliases=list(svc.aliases),
            supplier_id=supplier.id if supplier else None,
            skills=[s.casefold() for s in svc.skills],
            attributes=dict(svc.attributes),
        )
        found[svc.name] = changed
    # Suppliers may name services the file does not list; those gain the supplier too.
    given = {n.casefold() for n in found}
    for s in desk.entries("suppliers"):
        supplier = await uow.desk.named(Supplier, s.name)
        assert supplier is not None
        for name in s.services:
            row = await uow.desk.named(Service, name)
            assert row is not None, "check() resolved every service"
            if row.supplier_id != supplier.id and name.casefold() not in given:
                row.supplier_id = supplier.id
    # Relations last: they may point at services further down the file.
    for svc in entries:
        row = await uow.desk.named(Service, svc.name)
        assert row is not None
        parent = await uow.desk.named(Service, svc.part_of) if svc.part_of else None
        if row.parent_id != (parent.id if parent else None):
            row.parent_id = parent.id if parent else None
            found[svc.name].append("part_of")
        for relation in ("depends_on", "runs_on"):
            targets = [await uow.desk.named(Service, n) for n in getattr(svc, relation)]
            if await uow.desk.set_links(row, relation, [t for t in targets if t is not None]):
                found[svc.name].append(relation)
    await uow.session.flush()
    for svc in entries:
        row = await uow.desk.named(Service, svc.name)
        assert row is not None
        changes = diff(before[svc.name], await uow.cmdb.snapshot(row))
        if changes:
            action = "create" if before[svc.name] is None else "update"
            await uow.cmdb.record(row, changes, action=action, source="import")
    return [change_of(i.section, i.entry.name, found[i.entry.name]) for i in items]  # type: ignore[attr-defined]


async def _agreement(uow: UnitOfWork, calendars: dict[str, int], a: SlaEntry) -> Change:
    _, changed = await uow.desk.upsert(
        ServiceLevel,
        a.name,
        organisation=a.applies_to.organisation,
        kind=a.applies_to.kind,
        service=a.applies_to.service,
        calendar_id=await _calendar_id(uow, calendars, a.calendar),
        targets=_targets(a.targets),
        close_after=a.close_after,
    )
    return change_of("slas", a.name, changed)
