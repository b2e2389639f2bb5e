"""Applying the service catalog of the desk file: items, their approval chains and tasks."""

from __future__ import annotations

from typing import Any

from bot.desk.applied import Change, change_of
from bot.desk.catalog_schema import CatalogEntry, CatalogStep, CatalogTask
from store.models import Group
from store.uow import UnitOfWork


async def apply_catalog_item(uow: UnitOfWork, c: CatalogEntry) -> Change:
    """A catalog item, its groups resolved by name (`check` made sure they exist)."""
    approvers = await uow.desk.named(Group, c.approval.group) if c.approval.group else None
    fulfils = await uow.desk.named(Group, c.fulfilment.group)
    _, changed = await uow.catalog.upsert(
        c.name,
        aliases=list(c.aliases),
        category=c.category,
        description=c.description,
        fields=[f.model_dump(mode="json", exclude_none=True) for f in c.fields],
        approval=c.approval.by,
        approval_group_id=approvers.id if approvers else None,
        fulfilment_group_id=fulfils.id if fulfils else None,
        fulfilment_target=c.fulfilment.target,
        roles=[r.value for r in c.ordered_by.roles],
        organisations=list(c.ordered_by.organisations),
        cost=c.cost,
        active=c.active,
        approvals=[await _catalog_step(uow, s) for s in c.approvals],
        tasks=[await _catalog_task(uow, t) for t in c.fulfilment.tasks],
        tasks_parallel=c.fulfilment.order == "parallel",
        automation={"url": c.automation.url} if c.automation else None,
    )
    return change_of("catalog", c.name, changed)


async def _catalog_step(uow: UnitOfWork, s: CatalogStep) -> dict[str, Any]:
    group = await uow.desk.named(Group, s.group) if s.group else None
    return {
        "by": s.by,
        "group": group.name if group else None,
        "group_id": group.id if group else None,
        "quorum": s.quorum,
        "field": s.field,
    }


async def _catalog_task(uow: UnitOfWork, t: CatalogTask) -> dict[str, Any]:
    group = await uow.desk.named(Group, t.group) if t.group else None
    return {
        "name": t.name,
        "group": group.name if group else None,
        "group_id": group.id if group else None,
        "automation": t.automation,
    }
