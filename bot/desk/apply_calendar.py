"""Applying the change calendar of the desk file: standard changes, freeze windows, boards."""

from __future__ import annotations

from bot.desk.applied import Change, change_of
from bot.desk.change_schema import FreezeWindowEntry
from bot.desk.files import Desk
from store.changes import ChangeBoard, FreezeWindow, StandardChange
from store.models import Group
from store.uow import UnitOfWork


async def apply_change_calendar(uow: UnitOfWork, desk: Desk) -> list[Change]:
    """Standard change templates, freeze windows and change boards, upserted by name."""
    changes = []
    for sc in desk.entries("standard_changes"):
        _, changed = await uow.changes.upsert(
            StandardChange,
            sc.name,
            description=sc.description,
            services=list(sc.services),
            duration=sc.duration,
            backout_plan=sc.backout_plan,
        )
        changes.append(change_of("standard_changes", sc.name, changed))
    for fw in desk.entries("freeze_windows"):
        entry: FreezeWindowEntry = fw
        _, changed = await uow.changes.upsert(
            FreezeWindow,
            entry.name,
            starts_at=entry.starts_at(),
            ends_at=entry.ends_at(),
            timezone=entry.timezone,
            services=list(entry.services),
            reason=entry.reason,
        )
        changes.append(change_of("freeze_windows", entry.name, changed))
    for cb in desk.entries("change_boards"):
        group = await uow.desk.named(Group, cb.group)
        assert group is not None  # `check` made sure it exists
        _, changed = await uow.changes.upsert(
            ChangeBoard,
            cb.name,
            group_id=group.id,
            services=list(cb.services),
            quorum=cb.quorum,
        )
        changes.append(change_of("change_boards", cb.name, changed))
    return changes
