"""Building the e-mail channel (supplier mail) from `SMTP_URL`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.base import Channel

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps


class MailSettings(BaseSettings):
    """Mail: on when `SMTP_URL` is set."""

    model_config = SettingsConfigDict(env_prefix="SMTP_", env_file=".env", extra="ignore")

    url: SecretStr | None = Field(
        default=None, description="smtp://user:password@host:port, ?starttls=true; smtps://"
    )
    sender: str = Field(
        default="", alias="SMTP_FROM", description="The From address; default desk@<host>."
    )
    timeout: float = Field(default=20.0, gt=0, le=300)


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The channel when `SMTP_URL` is set, else None (the agent forwards the mail)."""
    cfg = MailSettings()
    if cfg.url is None or not cfg.url.get_secret_value().strip():
        return None
    from channels.email import EmailChannel, SmtpServer

    server = SmtpServer.from_url(cfg.url.get_secret_value())
    return EmailChannel(server, sender=cfg.sender or f"desk@{server.host}", timeout=cfg.timeout)
