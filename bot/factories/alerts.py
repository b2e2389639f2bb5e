"""Building the monitoring alerts channel: always on, credentials checked against the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """`POST /api/alerts` is always mounted; without the lookups every request is refused."""
    from channels.alerts.channel import AlertsChannel

    return AlertsChannel(tokens=deps.integration_token, secrets=deps.integration_secrets)
