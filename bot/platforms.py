"""Which channels run, built from the settings.

Adding a platform is one factory module in `bot/factories/` (its `build(settings, deps)`
returns the channel when configured, else None) and one line in `FACTORIES` below. Each
factory imports its channel module only when the platform is configured, so a deployment
without Slack never loads slack-bolt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.config import Settings
from bot.factories import alerts, email, meta, mqtt, slack, telegram, twilio, webhook, x
from channels.base import Channel, Cursors, Ingest, PlatformStateStore
from channels.catalog_forms import CatalogForms
from channels.conversation import Address
from channels.webchat import History, WebChatChannel
from store.db import SessionFactory
from store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class ChannelDeps:
    """What channels may be given by the application (never the store itself)."""

    secret: Callable[[], bytes]
    """The web chat signing secret; raises `UnavailableError` while the database is down."""
    history: History
    cursors: Cursors | None = None
    platform_state: PlatformStateStore | None = None
    ingest: Ingest | None = None
    services: Callable[[], Awaitable[list[str]]] | None = None
    delivery_status: Callable[[str, str, str], Awaitable[None]] | None = None
    integration_token: Callable[[str], Awaitable[str | None]] | None = None
    integration_secrets: Callable[[], Awaitable[list[tuple[str, str]]]] | None = None
    catalog_forms: CatalogForms | None = None


def _webchat(settings: Settings, deps: ChannelDeps) -> Channel | None:
    return WebChatChannel(secret=deps.secret, history=deps.history)


FACTORIES: list[Callable[[Settings, ChannelDeps], Channel | None]] = [
    _webchat,
    slack.build,
    telegram.build,
    twilio.build,
    x.build,
    alerts.build,
    meta.build,
    email.build,
    mqtt.build,
    webhook.build,
]


def build_channels(settings: Settings, deps: ChannelDeps) -> list[Channel]:
    """Every configured channel, constructed without I/O (clients open in `start()`)."""
    built = (factory(settings, deps) for factory in FACTORIES)
    return [c for c in built if c is not None]


def topic_addresses(settings: Settings) -> Callable[[str], list[Address]]:
    """Where announcements go: `major_incident` and `approvals` to configured Slack channels."""
    table: dict[str, list[Address]] = {}
    if settings.slack.enabled:
        if settings.slack.incidents_channel:
            table["major_incident"] = [
                Address(channel="slack", conversation=settings.slack.incidents_channel, user="")
            ]
        if settings.slack.approvals_channel:
            table["approvals"] = [
                Address(channel="slack", conversation=settings.slack.approvals_channel, user="")
            ]

    def lookup(topic: str) -> list[Address]:
        return list(table.get(topic, ()))

    return lookup


class DatabaseCursors:
    """`Cursors` kept in the database, plus the small lookups channels may ask the app for."""

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._factory)

    async def get(self, key: str) -> str | None:
        """The value kept under `key`, or None before the first `set`."""
        async with self._uow() as uow:
            return await uow.cursors.get(key)

    async def set(self, key: str, value: str) -> None:
        """Keep `value` under `key`, committed at once."""
        async with self._uow() as uow:
            await uow.cursors.set(key, value)
            await uow.commit()

    async def service_names(self) -> list[str]:
        """Names from the configuration database (for pickers in forms)."""
        async with self._uow() as uow:
            return [s.name for s in await uow.services.all()]

    async def delivery_status(self, platform: str, external_id: str, status: str) -> None:
        """Record a platform's delivery report for a reply we sent."""
        async with self._uow() as uow:
            await uow.outbox.record_delivery_status(platform, external_id, status)
            await uow.commit()

    async def integration_token(self, token: str) -> str | None:
        """The monitoring integration holding a bearer token, or None."""
        async with self._uow() as uow:
            return await uow.integrations.by_token(token)

    async def integration_secrets(self) -> list[tuple[str, str]]:
        """`(name, secret)` of the integrations that sign alert bodies."""
        async with self._uow() as uow:
            return await uow.integrations.signing_secrets()
