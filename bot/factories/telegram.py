"""Building the Telegram channel from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import metrics
from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def count_dropped(platform: str, reason: str) -> None:
    """Updates answered without an event (`ignored`, `quarantined`) show up in /metrics."""
    metrics.INBOX_EVENTS.labels(platform, reason).inc()


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel when `TELEGRAM_BOT_TOKEN` is set, else None.

    With `PUBLIC_URL` set (or `TELEGRAM_MODE=webhook`) updates arrive at the webhook and
    `TELEGRAM_SECRET_TOKEN` is required; otherwise the channel long-polls `getUpdates`.
    """
    cfg = settings.telegram
    if not cfg.enabled or cfg.bot_token is None:
        return None
    from channels.telegram.channel import TelegramChannel

    secret = cfg.secret_token.get_secret_value() if cfg.secret_token is not None else None
    return TelegramChannel(
        token=cfg.bot_token.get_secret_value(),
        secret_token=secret,
        api_url=cfg.api_url,
        webhook=cfg.webhook(settings.public_url),
        cursors=deps.cursors,
        on_drop=count_dropped,
        poll_timeout=cfg.poll_timeout,
    )
