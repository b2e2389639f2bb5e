"""The composition root: every part a process needs, built in one place.

`build_container(settings, roles=...)` builds engine, Redis client, queue, shared state,
channels and ingress without any I/O (engines and Redis clients connect lazily, and channels
open their clients in `start()`). `async with container:` opens what needs the running event
loop: the queue, channel clients, the web chat secret, and for the worker role the NLU model,
the intent router, worker and dispatcher (imported only then, so a web process never loads
them); leaving the block closes them. The web app opens it in
its lifespan, the worker and the console chat in their commands, the other commands to reach
the database; tests pass `Overrides` (an in-memory queue, a test model, extra channels).

A web process opens even while the database is unreachable: what needs storage answers 503
until it comes back, and the web chat secret is fetched again in the background.

Over 400 lines: it is the one place where the parts are wired, so that no other module
builds an engine, a client or a channel; a platform adds one factory in `bot/factories/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING

import structlog
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.catalog_forms import StoredCatalogForms
from bot.config import Settings
from bot.guards import storable_form
from bot.ingress import Ingress
from bot.platforms import ChannelDeps, DatabaseCursors, build_channels, topic_addresses
from bot.priority import WebFirst, no_wait
from bot.sla_kick import KICKS
from bot.web.live import NEWS
from bot.web.urls import base_url
from channels.base import Channel, IngestOutcome, ProfileSource
from channels.conversation import Address, Event, Reply
from nlu.patterns import DEFAULT_CATALOG
from nlu.types import CatalogEntry, Understander
from store.catalog import CatalogItem
from store.db import (
    SessionFactory,
    create_engine,
    create_reader,
    session_factory,
    snapshot_reader,
)
from store.errors import ConflictError, UnavailableError
from store.links import use_secret as use_link_secret
from store.models import Cursor
from store.platform_state import SqlPlatformState
from store.queue import InProcessQueue, Queue, RedisStreamQueue
from store.redis_state import RedisDialogue, RedisState
from store.state import Dialogue, LocalState, SharedState
from store.uow import UNAVAILABLE, UnitOfWork

if TYPE_CHECKING:
    # The worker role's parts (handlers, router, delivery rules) load in `_open_worker`, so a
    # web process never holds them.
    from bot.outbox import Dispatcher
    from bot.router import IntentRouter
    from bot.worker import Worker

log = structlog.get_logger(__name__)

# The name of the cursor row that holds the secret, not a secret.
WEBCHAT_SECRET_CURSOR = "webchat.secret"  # noqa: S105
RECONNECT_SECONDS = 5.0


class Role(StrEnum):
    """What a process does: answer webhooks, process events, or both (embedded)."""

    WEB = "web"
    WORKER = "worker"


ALL_ROLES = frozenset({Role.WEB, Role.WORKER})
NO_ROLES: frozenset[Role] = frozenset()
"""A command that only reads or writes the database (`seed`, `people import`, ...)."""


@dataclass
class Overrides:
    """Replacements for tests and special commands; anything left None is built normally.

    `channels` replaces the configured channels (the console chat speaks only through its
    own); `extra_channels` are added to them.
    """

    queue: Queue | None = None
    state: SharedState | None = None
    understander: Understander | None = None
    channels: Sequence[Channel] | None = None
    extra_channels: Sequence[Channel] = ()
    only_conversations: Sequence[str] | None = None


@dataclass
class Container:
    """The parts of one process; `async with container:` opens and closes them."""

    settings: Settings
    roles: frozenset[Role]
    engine: AsyncEngine
    factory: SessionFactory
    redis: Redis | None
    queue: Queue
    state: SharedState
    dialogue: Dialogue | None
    ingress: Ingress
    topics: Callable[[str], list[Address]]
    cursors: DatabaseCursors
    channels: dict[str, Channel] = field(default_factory=dict)
    read_engine: AsyncEngine | None = None
    read_factory: SessionFactory | None = None
    understander: Understander | None = None
    dispatcher: Dispatcher | None = None
    worker: Worker | None = None
    only_conversations: Sequence[str] | None = None
    # Set where one process answers webhooks and works: the worker lets acks go first.
    web_first: WebFirst | None = None
    _router: IntentRouter | None = None
    _secret: bytes | None = None
    _started: list[Channel] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    # -- lookups --------------------------------------------------------------------------

    @property
    def router(self) -> IntentRouter:
        """The intent router over every handler, built on first use (the worker role's)."""
        if self._router is None:
            from bot.router import IntentRouter
            from handlers.registry import load as load_handlers

            s = self.settings
            self._router = IntentRouter(
                load_handlers(),
                whatsapp_template=bool(s.twilio.whatsapp_from and s.twilio.whatsapp_template_sid),
            )
        return self._router

    def channel_for(self, platform: str) -> Channel | None:
        """The channel serving a platform, None when it is not configured."""
        return self.channels.get(platform)

    def unique_channels(self) -> list[Channel]:
        """Each channel once (one module may serve several platforms, as Twilio does)."""
        return list({id(c): c for c in self.channels.values()}.values())

    def uow(self) -> UnitOfWork:
        """A unit of work for reading and writing."""
        return UnitOfWork(self.factory)

    def reader(self) -> UnitOfWork:
        """A unit of work for reading alone: on SQLite it never waits for a writer."""
        return UnitOfWork(self.read_factory or self.factory)

    def channel_deps(self) -> ChannelDeps:
        """What channels are given: this container's ingress, secret, history and cursors."""
        return ChannelDeps(
            secret=self.webchat_secret,
            history=self.history,
            cursors=self.cursors,
            platform_state=SqlPlatformState(self.factory),
            ingest=self.ingest,
            services=self.cursors.service_names,
            delivery_status=self.cursors.delivery_status,
            integration_token=self.cursors.integration_token,
            integration_secrets=self.cursors.integration_secrets,
            catalog_forms=StoredCatalogForms(self.factory),
        )

    async def ingest(self, event: Event) -> IngestOutcome:
        """Hand one event to the inbox (stable across openings, unlike `ingress` itself).

        Text the database cannot store (NUL characters, lone surrogates) is removed first,
        whichever door the event came through.
        """
        return await self.ingress(*storable_form(event))

    def add_channel(self, channel: Channel) -> None:
        """Serve every platform of `channel` through it."""
        for platform in channel.platforms:
            self.channels[platform] = channel

    @property
    def webchat_secret_ready(self) -> bool:
        """True once the web chat signing secret is loaded from the database."""
        return self._secret is not None

    def webchat_secret(self) -> bytes:
        """The web chat signing secret; `UnavailableError` (HTTP 503) until it is loaded."""
        if self._secret is None:
            raise UnavailableError("the database is not reachable yet")
        return self._secret

    async def history(self, conversation_key: str, after: int) -> list[tuple[int, Reply]]:
        """Web chat replies of one conversation after outbox id `after`."""
        async with self.uow() as uow:
            rows = await uow.outbox.history("webchat", conversation_key, after_id=after)
        return [(r.id, Reply.from_dict(r.reply)) for r in rows]

    async def refresh_services(self) -> int:
        """Give the NLU the current service names and catalog items, with their aliases."""
        if self.understander is None:
            return 0
        async with self.uow() as uow:
            services = await uow.services.all()
            items = await uow.catalog.items()
        entries = [CatalogEntry(name=s.name, aliases=tuple(s.aliases or ())) for s in services]
        if entries:
            self.understander.set_services(entries)
        set_catalog = getattr(self.understander, "set_catalog", None)
        if items and callable(set_catalog):
            set_catalog(catalog_entries(items))
        return len(entries)

    # -- opening and closing --------------------------------------------------------------

    async def __aenter__(self) -> Container:
        try:
            await self.open()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open queue, channels and (worker role) NLU, worker and dispatcher."""
        if not self.roles:
            return
        await self.queue.start()
        await self._open_secret()
        for ch in self.unique_channels():
            await ch.start()
            self._started.append(ch)
        # A fresh one per opening: its queue belongs to the event loop that opens it.
        self.ingress = Ingress(self.factory, self.queue, self.state)
        await self.ingress.start()
        KICKS.bind(self.redis, self.settings.redis_prefix)
        NEWS.bind(self.redis, self.settings.redis_prefix)
        if Role.WORKER in self.roles:
            await self._open_worker()

    async def _open_secret(self) -> None:
        try:
            self._use_secret(await load_webchat_secret(self.settings, self.factory))
        except UNAVAILABLE as e:
            if Role.WORKER in self.roles:
                raise
            # The web role stays up: what needs storage answers 503 until the database is back.
            log.warning("storage.unavailable", error=type(e).__name__, retry_in=RECONNECT_SECONDS)
            self._tasks.append(asyncio.create_task(self._reconnect(), name="storage-reconnect"))

    def _use_secret(self, secret: bytes) -> None:
        # Link codes are hashed with a key derived from the same deployment secret.
        self._secret = secret
        use_link_secret(secret)

    async def _reconnect(self) -> None:
        while self._secret is None:
            await asyncio.sleep(RECONNECT_SECONDS)
            try:
                self._use_secret(await load_webchat_secret(self.settings, self.factory))
            except UNAVAILABLE as e:
                log.debug("storage.still_unavailable", error=type(e).__name__)
        log.info("storage.available")

    async def _open_worker(self) -> None:
        from bot.outbox import Dispatcher
        from bot.worker import Worker

        understander = self.understander
        if understander is None:
            understander = await asyncio.to_thread(load_understander, self.settings)
        self.understander = understander
        s = self.settings
        self.dispatcher = Dispatcher(
            factory=self.factory,
            channels=self.channels,
            state=self.state,
            max_attempts=s.outbox_max_attempts,
            lease_seconds=s.outbox_lease_seconds,
            conversations=self.only_conversations,
        )
        self.worker = Worker(
            factory=self.factory,
            queue=self.queue,
            state=self.state,
            understander=understander,
            router=self.router,
            topics=self.topics,
            dialogue=self.dialogue,
            dispatcher=self.dispatcher,
            batch=s.worker_batch,
            concurrency=s.worker_concurrency,
            max_deliveries=s.max_deliveries,
            max_text_chars=s.max_text_chars,
            dialogue_ttl=s.dialogue_ttl_seconds,
            profiles={p: ch for p, ch in self.channels.items() if isinstance(ch, ProfileSource)},
            # Handlers queue mail only when something will send it (`SMTP_URL`).
            mail="email" in self.channels,
            give_way=self.web_first.turn if self.web_first is not None else no_wait,
        )
        try:
            await self.refresh_services()
        except Exception as e:
            log.warning("nlu.services_refresh_failed", error=str(e))

    async def aclose(self) -> None:
        """Close everything opened; safe to call twice."""
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        KICKS.release(self.redis)
        NEWS.release(self.redis)
        await self.ingress.aclose()
        for ch in self._started:
            try:
                await ch.aclose()
            except Exception as e:
                log.warning("channel.close_failed", channel=ch.name, error=str(e))
        self._started.clear()
        await self.queue.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()


def catalog_entries(items: Sequence[CatalogItem]) -> list[CatalogEntry]:
    """The stored catalog's names for the NLU, ahead of the built-in request phrases.

    The built-in phrases stay ("reset my password" is still a request when no item covers
    it); a stored item of the same name replaces its built-in entry.
    """
    stored = [
        CatalogEntry(name=i.name, aliases=tuple(str(a) for a in i.aliases or ())) for i in items
    ]
    taken = {e.name.casefold() for e in stored}
    return stored + [e for e in DEFAULT_CATALOG if e.name.casefold() not in taken]


def load_understander(settings: Settings) -> Understander:
    """Load the NLU model once per process, training it first if none exists yet."""
    from nlu.pipeline import load
    from nlu.train import ensure_model

    path = ensure_model(settings.nlu_model_path)
    return load(path, timezone=settings.timezone)


async def load_webchat_secret(settings: Settings, factory: SessionFactory) -> bytes:
    """The web chat signing secret: `SECRET_KEY`, else one kept in the database for all."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    async with UnitOfWork(factory) as uow:
        found = await _stored_webchat_secret(uow.session)
        if found:
            return bytes.fromhex(found)
        value = secrets.token_hex(32)
        await uow.cursors.set(WEBCHAT_SECRET_CURSOR, value)
        try:
            await uow.commit()
            return bytes.fromhex(value)
        except ConflictError:
            pass  # another process created it first; read theirs
    async with UnitOfWork(factory) as uow:
        found = await _stored_webchat_secret(uow.session)
    if not found:
        raise RuntimeError("could not create the web chat secret")
    return bytes.fromhex(found)


async def _stored_webchat_secret(session: AsyncSession) -> str | None:
    # A Core read: the first ORM query configures every mapper (about 5 MB), which a web
    # process serving only webhooks and the web chat never needs.
    table = Cursor.__table__
    found: str | None = await session.scalar(
        select(table.c.value).where(table.c.key == WEBCHAT_SECRET_CURSOR)
    )
    return found


def build_container(
    settings: Settings,
    *,
    roles: frozenset[Role] = ALL_ROLES,
    overrides: Overrides | None = None,
) -> Container:
    """Build every part a process with these roles needs, without I/O; open it with `async with`.

    Channels are built only for a process with a role (a database command needs none).
    """
    ov = overrides or Overrides()
    if Role.WORKER in roles:
        # Only the chat's handlers (the worker's) write sign-in links; the web role leaves
        # them, and the handlers' registry they bring, unloaded.
        from handlers.signin import use_base_url as use_signin_base

        use_signin_base(base_url(settings))
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    factory = session_factory(engine)
    read_engine = create_reader(
        settings.async_database_url, connect_args=settings.database_connect_args
    )
    # PostgreSQL reads share the writers' pool (nothing to dispose twice), in one snapshot.
    reads = read_engine or snapshot_reader(engine)
    redis: Redis | None = None
    dialogue: Dialogue | None = None
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            decode_responses=True,
            socket_timeout=10,
            socket_connect_timeout=5,
            health_check_interval=30,
        )
        dialogue = RedisDialogue(redis, prefix=settings.redis_prefix)
    queue = ov.queue or (
        RedisStreamQueue(
            redis, prefix=settings.redis_prefix, reclaim_idle_ms=settings.reclaim_idle_ms
        )
        if redis is not None
        else InProcessQueue()
    )
    state = ov.state or (
        RedisState(redis, prefix=settings.redis_prefix) if redis is not None else LocalState()
    )
    container = Container(
        settings=settings,
        roles=roles,
        engine=engine,
        factory=factory,
        read_engine=read_engine,
        read_factory=session_factory(reads) if reads is not None else None,
        redis=redis,
        queue=queue,
        state=state,
        dialogue=dialogue,
        ingress=Ingress(factory, queue, state),
        topics=topic_addresses(settings),
        cursors=DatabaseCursors(factory),
        understander=ov.understander,
        only_conversations=ov.only_conversations,
        web_first=WebFirst() if {Role.WEB, Role.WORKER} <= roles else None,
    )
    if roles:
        configured = (
            ov.channels
            if ov.channels is not None
            else build_channels(settings, container.channel_deps())
        )
        for ch in [*configured, *ov.extra_channels]:
            container.add_channel(ch)
    return container
