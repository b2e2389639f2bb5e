"""The composition root: one place that builds engine, Redis, queue, channels, NLU and roles.

The web app, the worker process, the console chat and the tests all build the same
container; tests pass `Overrides` (an in-memory queue, fake clients, a test model).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.ingress import Ingress
from bot.outbox import Dispatcher
from bot.router import IntentRouter
from bot.worker import Worker
from channels.base import Channel, ProfileSource
from channels.conversation import Address
from handlers.registry import load as load_handlers
from nlu.types import CatalogEntry, Understander
from store.db import SessionFactory, create_engine, session_factory
from store.errors import ConflictError
from store.links import use_secret as use_link_secret
from store.queue import InProcessQueue, Queue, RedisStreamQueue
from store.redis_state import RedisDialogue, RedisState
from store.state import Dialogue, LocalState, SharedState
from store.uow import UnitOfWork

log = structlog.get_logger(__name__)


class Role(StrEnum):
    """What a process does: answer webhooks, process events, or both (embedded)."""

    WEB = "web"
    WORKER = "worker"


ALL_ROLES = frozenset({Role.WEB, Role.WORKER})


@dataclass
class Overrides:
    """Replacements for tests and special commands; anything left None is built normally."""

    queue: Queue | None = None
    state: SharedState | None = None
    understander: Understander | None = None
    extra_channels: Sequence[Channel] = ()
    only_conversations: Sequence[str] | None = None


@dataclass
class Container:
    settings: Settings
    roles: frozenset[Role]
    engine: AsyncEngine
    factory: SessionFactory
    redis: Redis | None
    queue: Queue
    state: SharedState
    dialogue: Dialogue | None
    channels: dict[str, Channel]
    ingress: Ingress
    router: IntentRouter
    topics: Callable[[str], list[Address]]
    understander: Understander | None = None
    dispatcher: Dispatcher | None = None
    worker: Worker | None = None
    webchat_secret: bytes = b""
    _closers: list[Callable[[], object]] = field(default_factory=list)

    def channel_for(self, platform: str) -> Channel | None:
        return self.channels.get(platform)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.factory)

    async def refresh_services(self) -> int:
        """Give the NLU the current service names and aliases from the configuration database."""
        if self.understander is None:
            return 0
        async with self.uow() as uow:
            services = await uow.services.all()
        entries = [CatalogEntry(name=s.name, aliases=tuple(s.aliases or ())) for s in services]
        if entries:
            self.understander.set_services(entries)
        return len(entries)

    async def aclose(self) -> None:
        await self.ingress.aclose()
        for ch in {id(c): c for c in self.channels.values()}.values():
            try:
                await ch.aclose()
            except Exception as e:
                log.warning("channel.close_failed", channel=ch.name, error=str(e))
        await self.queue.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


def load_understander(settings: Settings) -> Understander:
    """Load the NLU model once per process, training it first if none exists yet."""
    from nlu.pipeline import load
    from nlu.train import ensure_model

    path = ensure_model(settings.nlu_model_path)
    return load(path, timezone=settings.timezone)


async def webchat_secret(settings: Settings, factory: SessionFactory) -> bytes:
    """The web chat signing secret: `SECRET_KEY`, else one kept in the database for all."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    key = "webchat.secret"
    async with UnitOfWork(factory) as uow:
        found = await uow.cursors.get(key)
        if found:
            return bytes.fromhex(found)
        value = secrets.token_hex(32)
        await uow.cursors.set(key, value)
        try:
            await uow.commit()
            return bytes.fromhex(value)
        except ConflictError:
            pass  # another process created it first; read theirs
    async with UnitOfWork(factory) as uow:
        found = await uow.cursors.get(key)
    if not found:
        raise RuntimeError("could not create the web chat secret")
    return bytes.fromhex(found)


async def build_container(
    settings: Settings,
    *,
    roles: frozenset[Role] = ALL_ROLES,
    channels: Sequence[Channel] = (),
    overrides: Overrides | None = None,
) -> Container:
    """Build every part a process with these roles needs; no request is served yet."""
    ov = overrides or Overrides()
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    factory = session_factory(engine)
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
    await queue.start()
    all_channels = [*channels, *ov.extra_channels]
    by_platform: dict[str, Channel] = {}
    for ch in all_channels:
        for p in ch.platforms:
            by_platform[p] = ch
    from bot.platforms import topic_addresses

    container = Container(
        settings=settings,
        roles=roles,
        engine=engine,
        factory=factory,
        redis=redis,
        queue=queue,
        state=state,
        dialogue=dialogue,
        channels=by_platform,
        ingress=Ingress(factory, queue, state),
        router=IntentRouter(load_handlers()),
        topics=topic_addresses(settings),
    )
    container.webchat_secret = await webchat_secret(settings, factory)
    use_link_secret(container.webchat_secret)
    for ch in {id(c): c for c in all_channels}.values():
        await ch.start()
    if Role.WORKER in roles:
        container.understander = ov.understander or await asyncio.to_thread(
            load_understander, settings
        )
        container.dispatcher = Dispatcher(
            factory=factory,
            channels=by_platform,
            state=state,
            max_attempts=settings.outbox_max_attempts,
            lease_seconds=settings.outbox_lease_seconds,
            conversations=ov.only_conversations,
        )
        container.worker = Worker(
            factory=factory,
            queue=queue,
            state=state,
            understander=container.understander,
            router=container.router,
            topics=container.topics,
            dialogue=dialogue,
            dispatcher=container.dispatcher,
            batch=settings.worker_batch,
            concurrency=settings.worker_concurrency,
            max_deliveries=settings.max_deliveries,
            max_text_chars=settings.max_text_chars,
            dialogue_ttl=settings.dialogue_ttl_seconds,
            profiles={p: ch for p, ch in by_platform.items() if isinstance(ch, ProfileSource)},
        )
        try:
            await container.refresh_services()
        except Exception as e:
            log.warning("nlu.services_refresh_failed", error=str(e))
    return container
