"""Applying the desk file's settings: device thresholds and Slack help channels.

Both are stored whole, as one value each, and read by the parts they configure: the MQTT
subscriber judges readings by the thresholds, the Slack channel listens in the help channels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bot.desk.applied import Change
from bot.desk.files import DeskError
from bot.factories.mqtt import THRESHOLDS_KEY
from bot.factories.slack import HELP_CHANNELS_KEY
from store.models import Group
from store.uow import UnitOfWork


async def apply_thresholds(uow: UnitOfWork, entries: list[dict[str, Any]]) -> Change:
    """Store the thresholds the MQTT subscriber judges readings by; the list replaces the last."""
    value = json.dumps(entries, sort_keys=True, ensure_ascii=False)
    before = await uow.cursors.get(THRESHOLDS_KEY)
    label = f"{len(entries)} threshold{'s' if len(entries) != 1 else ''}"
    if before == value:
        return Change("thresholds", label, "unchanged")
    await uow.cursors.set(THRESHOLDS_KEY, value)
    return Change("thresholds", label, "create" if before is None else "update")


async def apply_help_channels(uow: UnitOfWork, ids: list[str]) -> Change:
    """Store the Slack help channels; a group already posting cards in one is refused."""
    clashes = await uow.session.scalars(
        select(Group.name).where(Group.slack_channel.in_(ids)).order_by(Group.name)
    )
    named = [f"groups ({n}): its slack_channel is one of slack_help_channels" for n in clashes]
    if named:
        raise DeskError(named)
    value = ",".join(ids)
    before = await uow.cursors.get(HELP_CHANNELS_KEY)
    if before == value:
        return Change("slack_help_channels", value or "(none)", "unchanged")
    await uow.cursors.set(HELP_CHANNELS_KEY, value)
    action = "create" if before is None else "update"
    return Change("slack_help_channels", value or "(none)", action)


async def help_channel_warnings(uow: UnitOfWork, from_environment: Sequence[str]) -> list[str]:
    """Groups whose card channel is also a help channel, named in SLACK_HELP_CHANNELS or stored.

    The import refuses the clash within what it applies; the environment's list and groups
    imported after the stored list can only be warned about. Posts there (an agent's
    "anyone seen this?") would be taken as requests to the desk.
    """
    stored = [c for c in (await uow.cursors.get(HELP_CHANNELS_KEY) or "").split(",") if c]
    help = {*from_environment, *stored}
    if not help:
        return []
    rows = await uow.session.execute(
        select(Group.name, Group.slack_channel)
        .where(Group.slack_channel.in_(sorted(help)))
        .order_by(Group.name)
    )
    where = set(from_environment)
    return [
        f"groups ({name}): slack_channel {channel} is also a help channel "
        f"({'SLACK_HELP_CHANNELS' if channel in where else 'slack_help_channels'}); every post "
        "there will be taken as a request to the desk. Give the group another channel."
        for name, channel in rows
    ]
