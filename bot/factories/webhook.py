"""Building the webhook channel (catalog automations); always on, signing with `WEBHOOK_SECRET`.

It is on even without a secret, so an automation queued on a deployment that lacks one fails
its task with that reason instead of waiting in the outbox unseen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


class WebhookSettings(BaseSettings):
    """`WEBHOOK_SECRET` signs every POST; `WEBHOOK_TIMEOUT` bounds each one (seconds)."""

    model_config = SettingsConfigDict(env_prefix="WEBHOOK_", env_file=".env", extra="ignore")

    secret: SecretStr | None = Field(default=None, description="The HMAC-SHA256 signing key.")
    timeout: float = Field(default=10.0, gt=0, le=120)


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel, always; without a secret each automation fails its task at once."""
    from channels.webhook import WebhookChannel

    cfg = WebhookSettings()
    secret = cfg.secret.get_secret_value().encode() if cfg.secret else None
    return WebhookChannel(secret or None, ingest=deps.ingest, timeout=cfg.timeout)
