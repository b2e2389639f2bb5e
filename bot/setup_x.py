"""Building the x channel from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel when configured, else None."""
    return None
