"""Building the Slack channel from the settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from channels.base import Channel, Cursors

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else ""


HELP_CHANNELS_KEY = "slack:help_channels"
"""Where `switchboard import` keeps the desk file's `slack_help_channels` (comma separated)."""


def stored_help_channels(cursors: Cursors) -> Callable[[], Awaitable[list[str]]]:
    """The help channels the desk file gave, read from the application's store."""

    async def read() -> list[str]:
        value = await cursors.get(HELP_CHANNELS_KEY)
        return [c for c in (value or "").split(",") if c]

    return read


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The Slack channel when `SLACK_BOT_TOKEN` and a signing secret or app token are set.

    The module is imported only here, so a deployment without Slack never loads slack-bolt.
    Without `SLACK_SIGNING_SECRET` the webhook refuses every request (Socket Mode only).
    """
    slack = settings.slack
    if not slack.enabled:
        return None
    from channels.slack import SlackChannel

    return SlackChannel(
        bot_token=_secret(slack.bot_token),
        signing_secret=_secret(slack.signing_secret),
        app_token=_secret(slack.app_token),
        api_url=slack.api_url,
        services=deps.services,
        help_channels=slack.help_channel_ids,
        stored_help_channels=stored_help_channels(deps.cursors) if deps.cursors else None,
        ticket_reaction=slack.ticket_reaction,
        catalog=deps.catalog_forms,
    )
