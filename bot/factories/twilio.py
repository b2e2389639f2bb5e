"""Building the Twilio (SMS and WhatsApp) channel from the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import metrics
from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


def count_dropped(platform: str, reason: str) -> None:
    """Texts answered without an event (STOP, START, HELP) show up in /metrics."""
    metrics.INBOX_EVENTS.labels(platform, reason).inc()


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel when `TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN` are set, else None.

    Webhook signatures are checked against `PUBLIC_URL` when it is set (behind a proxy the
    request's own URL is not the one Twilio signed), and delivery reports are asked for at
    `PUBLIC_URL/twilio/status`.
    """
    cfg = settings.twilio
    if not cfg.enabled or cfg.account_sid is None or cfg.auth_token is None:
        return None
    from channels.twilio.channel import SmsChannel

    return SmsChannel(
        account_sid=cfg.account_sid,
        auth_token=cfg.auth_token.get_secret_value(),
        from_number=cfg.from_number,
        whatsapp_from=cfg.whatsapp_from,
        messaging_service_sid=cfg.messaging_service_sid,
        whatsapp_template_sid=cfg.whatsapp_template_sid,
        api_url=cfg.api_url,
        public_url=settings.public_url,
        cursors=deps.cursors,
        platform_state=deps.platform_state,
        delivery_status=deps.delivery_status,
        on_drop=count_dropped,
    )
