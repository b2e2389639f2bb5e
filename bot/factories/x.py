"""Building the x channel from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from channels.base import Channel, ConfigurationError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bot.config import Settings
    from bot.platforms import ChannelDeps


def _value(secret: SecretStr | None) -> str | None:
    return (secret.get_secret_value() or None) if secret is not None else None


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel when configured, else None.

    The consumer secret alone is enough to answer X's CRC check at `/x/webhook`; the channel
    then refuses events with 503 and says once which variables are missing.
    """
    x = settings.x
    if not x.enabled and _value(x.consumer_secret) is None:
        return None
    # Imported here so a deployment without X never loads tweepy.
    from channels.x.channel import XChannel

    if deps.cursors is None:
        raise ConfigurationError("the X channel needs durable cursors", platform="x")
    return XChannel(
        cursors=deps.cursors,
        platform_state=deps.platform_state,
        bearer_token=_value(x.bearer_token),
        consumer_key=_value(x.consumer_key),
        consumer_secret=_value(x.consumer_secret),
        access_token=_value(x.access_token),
        access_token_secret=_value(x.access_token_secret),
        api_url=x.api_url,
        poll_interval=x.poll_interval,
        dm_poll_interval=x.dm_poll_interval,
    )
