"""Building the Slack channel from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def _secret(value: object) -> str:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if callable(getter) else ""


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
        stored_help_channels=getattr(deps, "help_channels", None),
        ticket_reaction=slack.ticket_reaction,
    )
