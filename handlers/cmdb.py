"""Configuration items: what an outage of one touches, and edits that leave a history.

`impact` answers `GET /api/cmdb/{name}/impact`; `impact_for` gives an incident on an item the
impact of the most critical service that depends on it; `save` is an admin's edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.rules.impact import (
    LEVEL,
    LIMIT,
    RANK,
    Affected,
    dependents,
    ranked,
    reason,
    worst,
)
from store.cmdb import CI_TYPES, diff
from store.enums import Criticality, Level
from store.models import Group, Person, Service, Supplier
from store.uow import UnitOfWork

SERVICE = "service"


class CmdbError(ValueError):
    """An edit that cannot be applied; `field` names the part of it at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"`{field}`: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Impact:
    """The services an item's outage reaches: at most `LIMIT` listed, `more` not listed."""

    item: str
    services: list[Affected]
    more: int

    @property
    def total(self) -> int:
        """How many services the outage reaches, listed or not."""
        return len(self.services) + self.more


@dataclass(frozen=True, slots=True)
class ImpactLevel:
    """The impact an incident on an item takes, and why, in words for the ticket."""

    level: Level
    criticality: Criticality
    reason: str


async def reach(uow: UnitOfWork, item_id: int) -> dict[int, int]:
    """Every item that depends on `item_id`, with its distance.

    The database hands over the part of the graph above the item in one statement; the walk
    over it is the pure one, which decides distances and stops at cycles.
    """
    return dependents(item_id, await uow.cmdb.subgraph(item_id))


async def _affected(uow: UnitOfWork, ci: Service) -> list[Affected]:
    depth = await reach(uow, ci.id)
    nodes = await uow.cmdb.nodes(depth, types=(SERVICE,))
    return [Affected(n.id, n.name, Criticality(n.criticality), depth[n.id]) for n in nodes]


async def impact(uow: UnitOfWork, ci: Service, limit: int = LIMIT) -> Impact:
    """Services that depend on `ci`, transitively, most critical first, with open incidents."""
    listed, more = ranked(await _affected(uow, ci), limit)
    counts = await uow.cmdb.open_incidents([a.id for a in listed])
    with_counts = [
        Affected(a.id, a.name, a.criticality, a.depth, counts.get(a.id, 0)) for a in listed
    ]
    return Impact(ci.name, with_counts, more)


async def impact_for(uow: UnitOfWork, ci: Service) -> ImpactLevel:
    """The impact of an incident on `ci`: the most critical service depending on it.

    A service more critical than everything that depends on it keeps its own criticality, as
    does an item nothing depends on.

    The incident handler's one call: `found = await impact_for(ctx.uow, service)`, then
    `prio.impact(found.criticality, reach)` and `found.reason` on the ticket.
    """
    found = await _affected(uow, ci)
    own = Criticality(ci.criticality)
    top = worst(found)
    if top is None:
        return ImpactLevel(LEVEL[own], own, f"nothing depends on {ci.name}; it is {own.value}")
    if ci.type == SERVICE and RANK[own] < RANK[top]:
        return ImpactLevel(LEVEL[own], own, f"{ci.name} is {own.value}")
    return ImpactLevel(LEVEL[top], top, reason(ci.name, found))


@dataclass(frozen=True, slots=True)
class CiSpec:
    """Everything an admin sets on an item; references by name."""

    type: str = SERVICE
    criticality: Criticality = Criticality.MEDIUM
    description: str = ""
    owner_group: str | None = None
    aliases: tuple[str, ...] = ()
    supplier: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    depends_on: tuple[str, ...] = ()
    runs_on: tuple[str, ...] = ()
    part_of: str | None = None
    skills: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Saved:
    """A configuration item after saving: whether it was new, and the fields that changed."""

    ci: Service
    created: bool
    changes: dict[str, Any]


async def _named(uow: UnitOfWork, field_: str, name: str, me: str) -> Service:
    if name.casefold() == me.casefold():
        raise CmdbError(field_, f"{name!r} cannot point at itself")
    found = await uow.cmdb.by_name(name)
    if found is None:
        raise CmdbError(field_, f"unknown configuration item {name!r}")
    return found


async def save(
    uow: UnitOfWork, name: str, spec: CiSpec, *, actor: Person | None, source: str = "api"
) -> Saved:
    """Create or replace an item by name, refusing unknown names and cycles; one history event.

    Nothing is written when the edit is refused (the caller does not commit).
    """
    if spec.type not in CI_TYPES:
        raise CmdbError("type", f"unknown type {spec.type!r}; use {', '.join(CI_TYPES)}")
    owner = await uow.desk.named(Group, spec.owner_group) if spec.owner_group else None
    if spec.owner_group and owner is None:
        raise CmdbError("owner_group", f"unknown group {spec.owner_group!r}")
    supplier = await uow.desk.named(Supplier, spec.supplier) if spec.supplier else None
    if spec.supplier and supplier is None:
        raise CmdbError("supplier", f"unknown supplier {spec.supplier!r}")
    links = {
        relation: [await _named(uow, relation, n, name) for n in getattr(spec, relation)]
        for relation in ("depends_on", "runs_on")
    }
    parent = await _named(uow, "part_of", spec.part_of, name) if spec.part_of else None

    existing = await uow.cmdb.by_name(name)
    before = await uow.cmdb.snapshot(existing) if existing else None
    if existing is not None:
        # Whatever the item will point at must not already depend on it.
        depends = await reach(uow, existing.id)
        for relation, targets in [*links.items(), ("part_of", [parent] if parent else [])]:
            for t in targets:
                if t.id in depends:
                    raise CmdbError(
                        relation, f"a cycle: {t.name} already depends on {existing.name}"
                    )
    ci, _ = await uow.desk.upsert(
        Service,
        existing.name if existing else name,
        type=spec.type,
        criticality=spec.criticality,
        description=spec.description,
        owner_group_id=owner.id if owner else None,
        aliases=list(spec.aliases),
        supplier_id=supplier.id if supplier else None,
        attributes=dict(spec.attributes),
        skills=[s.casefold() for s in spec.skills],
    )
    ci.parent_id = parent.id if parent else None
    for relation, targets in links.items():
        await uow.desk.set_links(ci, relation, targets)
    await uow.flush()
    changes = diff(before, await uow.cmdb.snapshot(ci))
    if changes:
        await uow.cmdb.record(
            ci,
            changes,
            action="update" if existing else "create",
            source=source,
            actor_id=actor.id if actor else None,
        )
    return Saved(ci, existing is None, changes)
