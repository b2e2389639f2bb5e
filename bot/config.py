"""Configuration from the environment (and an optional `.env`), one settings class per channel."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.db import normalise_database_url

_PLACEHOLDERS = {"changeme", "change-me", "secret", "xxx", "todo"}


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class SlackSettings(BaseSettings):
    """Slack: on when the bot token and the signing secret (or an app token) are set."""

    model_config = _config("SLACK_")

    bot_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    app_token: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    incidents_channel: str | None = Field(
        default=None, description="Channel id where new P1/P2 incidents are announced."
    )
    approvals_channel: str | None = Field(
        default=None, description="Channel id where changes awaiting approval are posted."
    )
    help_channels: str = Field(
        default="", description="Channel ids (comma separated) where every post is taken."
    )
    ticket_reaction: str = Field(
        default="ticket", description="Reaction name that files a ticket from a message."
    )

    @property
    def help_channel_ids(self) -> tuple[str, ...]:
        """The help channels' ids, blanks dropped."""
        return tuple(c.strip() for c in self.help_channels.split(",") if c.strip())

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        # slack_sdk joins method names with urljoin: without the slash the last segment is lost.
        return v if v.endswith("/") else v + "/"

    @property
    def enabled(self) -> bool:
        """Whether the bot token and a way to receive events (signed or socket) are set."""
        return bool(_secret(self.bot_token)) and bool(
            _secret(self.signing_secret) or _secret(self.app_token)
        )


class TelegramSettings(BaseSettings):
    """Telegram: on when the bot token is set."""

    model_config = _config("TELEGRAM_")

    bot_token: SecretStr | None = None
    secret_token: SecretStr | None = None
    api_url: str = "https://api.telegram.org/bot"
    mode: Literal["auto", "webhook", "polling"] = Field(
        default="auto",
        description="auto: the webhook when PUBLIC_URL is set, else long polling.",
    )
    poll_timeout: float = Field(default=25.0, ge=0.0, le=50.0)

    @property
    def enabled(self) -> bool:
        """Whether the bot token is set."""
        return bool(_secret(self.bot_token))

    def webhook(self, public_url: str | None) -> bool:
        """Whether updates arrive at `/telegram/webhook` (else `getUpdates` is polled)."""
        return self.mode == "webhook" or (self.mode == "auto" and bool(public_url))


class TwilioSettings(BaseSettings):
    """Twilio SMS and WhatsApp: on when the account SID and auth token are set."""

    model_config = _config("TWILIO_")

    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    whatsapp_from: str | None = None
    messaging_service_sid: str | None = None
    whatsapp_template_sid: str | None = None
    api_url: str = "https://api.twilio.com"

    @field_validator("api_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        # Request paths start with a slash (`/2010-04-01/Accounts/...`).
        return v.rstrip("/")

    @property
    def enabled(self) -> bool:
        """Whether the account SID and the auth token are set."""
        return bool(self.account_sid) and bool(_secret(self.auth_token))


class XSettings(BaseSettings):
    """X (Twitter): on when the bearer token or the user-context keys are set."""

    model_config = _config("X_")

    bearer_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    api_url: str = "https://api.twitter.com"
    poll_interval: float = Field(default=60.0, ge=1.0)
    dm_poll_interval: float = Field(
        default=60.0,
        ge=0.0,
        description="Seconds between DM polls (GET /2/dm_events allows 15 per 15 minutes); "
        "0 turns DM polling off when the Account Activity webhook delivers DMs.",
    )

    @field_validator("api_url")
    @classmethod
    def _origin_only(cls, v: str) -> str:
        # tweepy hard-codes the host; only scheme, host and port can be redirected.
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("X_API_URL must look like https://api.twitter.com")
        if parts.path.strip("/") or parts.query:
            raise ValueError("X_API_URL takes scheme, host and port only, no path")
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def enabled(self) -> bool:
        """Whether the bearer token, or the user-context key and access token, are set."""
        return bool(_secret(self.bearer_token)) or bool(
            _secret(self.consumer_key) and _secret(self.access_token)
        )


class MetaSettings(BaseSettings):
    """Facebook Messenger and Instagram: on when the app secret and the page token are set.

    `/meta/webhook` is mounted either way; without the app secret every delivery is refused
    and without the verify token the subscription handshake is.
    """

    model_config = _config("META_")

    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    page_token: SecretStr | None = None
    api_url: str = "https://graph.facebook.com/v21.0"
    human_agent_tag: bool = Field(
        default=False,
        description="Send a person's own replies (an agent's answer, an incident update) 24 h "
        "to 7 days after the customer's last message with the HUMAN_AGENT tag (only for apps "
        "Meta approved for it); the bot's own notices, and all replies otherwise, wait.",
    )
    hold_seconds: float = Field(
        default=120.0,
        ge=1.0,
        description="How often a reply held outside the messaging window is tried again.",
    )
    hold_days: float = Field(
        default=7.0,
        gt=0.0,
        description="After this long without a message, a held reply is dropped.",
    )

    @field_validator("api_url")
    @classmethod
    def _graph_base(cls, v: str) -> str:
        parts = urlsplit(v.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
            raise ValueError("META_API_URL must look like https://graph.facebook.com/v21.0")
        return v.strip().rstrip("/")

    @property
    def enabled(self) -> bool:
        """Whether the app secret and the page token are set."""
        return bool(_secret(self.app_secret)) and bool(_secret(self.page_token))


class MqttSettings(BaseSettings):
    """Device telemetry and events over MQTT: on when `MQTT_URL` is set (`mqtt://host:1883`)."""

    model_config = _config("MQTT_")

    url: str | None = None
    topics: str = Field(
        default="switchboard/events/#", description="Comma-separated topic filters."
    )

    @field_validator("url")
    @classmethod
    def _broker(cls, v: str | None) -> str | None:
        if not v or not v.strip():
            return None
        parts = urlsplit(v.strip())
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError("MQTT_URL must look like mqtt://host:1883")
        return v.strip()

    @property
    def enabled(self) -> bool:
        """Whether a broker URL is set."""
        return self.url is not None


class Settings(BaseSettings):
    """Everything Switchboard reads from the environment.

    With nothing set, Switchboard runs embedded: a SQLite file under `var/`, an in-process
    queue, web and worker roles in one process. `DATABASE_URL` plus `REDIS_URL` select the
    scaled mode.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///var/switchboard.db"
    redis_url: str | None = None
    redis_prefix: str = Field(
        default="sb:", description="Prefix of every Redis key, so deployments can share a server."
    )
    public_url: str | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs web chat sessions; when unset, one is kept in the database.",
    )
    host: str = "127.0.0.1"
    port: int = 8000

    nlu_model_path: Path = Path("var/models/nlu")
    timezone: str = "UTC"
    max_body_bytes: int = 1024 * 1024
    max_text_chars: int = 4000

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    worker_batch: int = Field(default=64, ge=1, le=1000)
    worker_concurrency: int = Field(default=16, ge=1, le=256)
    reclaim_idle_ms: int = Field(default=30_000, ge=1000)
    max_deliveries: int = Field(default=5, ge=1)
    outbox_max_attempts: int = Field(default=8, ge=1)
    outbox_lease_seconds: float = Field(
        default=60.0, ge=1.0, description="How long a dispatcher holds a reply it is sending."
    )
    dialogue_ttl_seconds: int = Field(default=900, ge=30)
    metrics_port: int | None = Field(
        default=None, description="Port for the worker role's own /metrics (scaled mode)."
    )
    demo_seed: bool = False

    slack: SlackSettings = Field(default_factory=SlackSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    x: XSettings = Field(default_factory=XSettings)
    meta: MetaSettings = Field(default_factory=MetaSettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)

    @field_validator("public_url")
    @classmethod
    def _strip_public(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else v

    @field_validator("redis_url")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "production":
            return self
        secrets = {
            "SLACK_SIGNING_SECRET": self.slack.signing_secret,
            "TELEGRAM_SECRET_TOKEN": self.telegram.secret_token,
            "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "X_CONSUMER_SECRET": self.x.consumer_secret,
            "META_APP_SECRET": self.meta.app_secret,
            "META_VERIFY_TOKEN": self.meta.verify_token,
        }
        for name, value in secrets.items():
            if value is not None and _secret(value).lower() in _PLACEHOLDERS:
                raise ValueError(f"{name} is a placeholder; set the real secret")
        return self

    @property
    def scaled(self) -> bool:
        """True when the queue and shared state live in Redis."""
        return self.redis_url is not None

    @property
    def async_database_url(self) -> str:
        """`DATABASE_URL` with the async driver SQLAlchemy connects through."""
        return normalise_database_url(self.database_url)[0]

    @property
    def database_connect_args(self) -> dict[str, object]:
        """Driver arguments the URL's query implies (asyncpg's `ssl` for `sslmode`)."""
        return normalise_database_url(self.database_url)[1]

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is SQLite rather than PostgreSQL."""
        return self.async_database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (tests, CLI flags)."""
    return Settings(**overrides)  # type: ignore[arg-type]
