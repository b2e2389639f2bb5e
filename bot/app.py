"""The ASGI application: channel webhooks, web chat, REST API, health and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from bot import metrics
from bot.api import router as api_router
from bot.config import Settings, load_settings
from bot.container import ALL_ROLES, Container, Overrides, Role, build_container
from bot.guards import Guards, install_error_handlers, storable
from bot.logging import configure as configure_logging
from bot.openapi import document_routes
from bot.platforms import ChannelDeps, DatabaseCursors, build_channels
from bot.runtime import Background
from channels.base import Channel, IngestOutcome, PayloadError, SignatureError
from channels.conversation import Event, Reply
from store.uow import UNAVAILABLE

log = structlog.get_logger(__name__)


class _Late:
    """The container, once the lifespan has built it (routes are declared before that)."""

    container: Container | None = None

    def get(self) -> Container:
        if self.container is None:
            raise RuntimeError("the application is not started")
        return self.container


def create_app(
    settings: Settings | None = None,
    *,
    roles: frozenset[Role] = ALL_ROLES,
    overrides: Overrides | None = None,
    extra_channels: Sequence[Channel] = (),
) -> FastAPI:
    """Build the app; with the worker role it also processes events in the same process."""
    settings = settings or load_settings()
    late = _Late()

    async def ingest(event: Event) -> IngestOutcome:
        return await late.get().ingress(storable(event))

    async def history(conversation_key: str, after: int) -> list[tuple[int, Reply]]:
        async with late.get().uow() as uow:
            rows = await uow.outbox.history("webchat", conversation_key, after_id=after)
        return [(r.id, Reply.from_dict(r.reply)) for r in rows]

    cursors = DatabaseCursors()
    deps = ChannelDeps(
        secret=lambda: late.get().webchat_secret,
        history=history,
        cursors=cursors,
        ingest=ingest,
        services=cursors.service_names,
        delivery_status=cursors.delivery_status,
    )
    channels = [*build_channels(settings, deps), *extra_channels]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container = await build_container(
            settings, roles=roles, channels=channels, overrides=overrides
        )
        late.container = container
        app.state.container = container
        cursors.bind(container.factory)
        await container.ingress.start()
        background = Background(container) if Role.WORKER in roles else None
        try:
            if background is not None:
                await background.__aenter__()
            log.info("app.started", roles=sorted(roles), channels=sorted(container.channels))
            yield
        finally:
            if background is not None:
                await background.__aexit__(None, None, None)
            await container.aclose()
            late.container = None

    app = FastAPI(
        title="Switchboard",
        summary="Omnichannel chat-ops for IT service management.",
        version="0.1.0",
        lifespan=lifespan,
    )
    # Guards bounds the body while it streams in, so Starlette's own limit is not set.
    app.add_middleware(Guards, max_body_bytes=settings.max_body_bytes)
    for channel in channels:
        app.router.routes.extend(channel.routes(ingest))
    app.include_router(api_router)
    _operations(app, late)
    _errors(app)
    install_error_handlers(app)
    document_routes(app)
    return app


def _operations(app: FastAPI, late: _Late) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness and readiness")
    async def healthz() -> Response:
        """200 when the database (and Redis, when configured) answer; 503 otherwise."""
        c = late.get()
        checks: dict[str, str] = {}
        try:
            async with c.uow() as uow:
                await uow.people.count()
            checks["database"] = "ok"
        except Exception as e:
            checks["database"] = f"error: {type(e).__name__}"
        if c.redis is not None:
            try:
                await asyncio.wait_for(c.redis.ping(), timeout=2)
                checks["redis"] = "ok"
            except Exception as e:
                checks["redis"] = f"error: {type(e).__name__}"
        healthy = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable", "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        c = late.get()
        try:
            metrics.QUEUE_DEPTH.set(await c.queue.depth())
        except Exception as e:
            log.warning("metrics.queue_depth_failed", error=str(e))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(SignatureError)
    async def forged(request: Request, exc: SignatureError) -> Response:
        metrics.INBOX_EVENTS.labels(exc.platform or "unknown", "rejected").inc()
        log.warning("ingress.rejected", platform=exc.platform, reason=str(exc), status=401)
        return JSONResponse({"error": "invalid signature"}, status_code=401)

    @app.exception_handler(PayloadError)
    async def malformed(request: Request, exc: PayloadError) -> Response:
        metrics.INBOX_EVENTS.labels(exc.platform or "unknown", "rejected").inc()
        log.info("ingress.malformed", platform=exc.platform, reason=str(exc), status=400)
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "detail": errors}, status_code=400)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning("app.unavailable", error=str(exc), path=request.url.path)
        return JSONResponse(
            {"error": "temporarily unavailable, retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for exc_type in (*UNAVAILABLE, RedisError):
        app.add_exception_handler(exc_type, unavailable)


def app_from_environment() -> FastAPI:
    """The uvicorn target for `switchboard web` (the web role alone)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings, roles=frozenset({Role.WEB}))
