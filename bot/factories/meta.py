"""Building the Meta (Messenger and Instagram) channel: always on, so the webhook answers."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from channels.base import Channel

if TYPE_CHECKING:
    from pydantic import SecretStr

    from bot.config import Settings
    from bot.platforms import ChannelDeps

log = structlog.get_logger(__name__)


def _value(secret: SecretStr | None) -> str | None:
    return (secret.get_secret_value() or None) if secret is not None else None


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """`/meta/webhook` is always mounted; unconfigured, it refuses everything (403/401)."""
    from channels.meta.channel import MetaChannel

    cfg = settings.meta
    if deps.platform_state is None:
        # Without the durable store the window restarts empty: replies go as responses and
        # Meta's own refusal is what holds them.
        log.warning("meta.memory_state")
    return MetaChannel(
        cursors=deps.cursors,
        platform_state=deps.platform_state,
        app_secret=_value(cfg.app_secret),
        verify_token=_value(cfg.verify_token),
        page_token=_value(cfg.page_token),
        api_url=cfg.api_url,
        human_agent_tag=cfg.human_agent_tag,
        hold_seconds=cfg.hold_seconds,
        hold_limit=timedelta(days=cfg.hold_days),
    )
