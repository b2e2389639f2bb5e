"""The ASGI application: channel webhooks, web chat, REST API, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from redis.exceptions import RedisError
from starlette.routing import BaseRoute, Route

from bot import metrics
from bot.api import router as api_router
from bot.api_calendar import router as calendar_router
from bot.api_catalog import router as catalog_router
from bot.api_changes import router as changes_router
from bot.api_cmdb import router as cmdb_router
from bot.api_desk import router as desk_api_router
from bot.api_docs import install_docs
from bot.api_problems import router as problems_router
from bot.api_releases import router as releases_router
from bot.config import Settings, load_settings
from bot.container import ALL_ROLES, Container, Overrides, Role, build_container
from bot.desk_gauges import DeskGauges
from bot.direct import DirectRoutes, Endpoint
from bot.guards import Guards, install_error_handlers
from bot.logging import configure as configure_logging
from bot.openapi import document_routes
from bot.priority import CountWrites
from bot.telemetry import fastapi_telemetry
from bot.web.mount import install_web
from channels.base import Channel, PayloadError, SignatureError
from store.uow import UNAVAILABLE

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    roles: frozenset[Role] = ALL_ROLES,
    overrides: Overrides | None = None,
    extra_channels: Sequence[Channel] = (),
) -> FastAPI:
    """Build the app; with the worker role it also processes events in the same process.

    Nothing connects here: the lifespan opens the container, and a web process whose
    database is down still starts and answers 503 where storage is needed.
    """
    settings = settings or load_settings()
    ov = overrides or Overrides()
    if extra_channels:
        ov = replace(ov, extra_channels=[*ov.extra_channels, *extra_channels])
    container = build_container(settings, roles=roles, overrides=ov)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with container, contextlib.AsyncExitStack() as stack:
            if Role.WORKER in roles:
                # The worker's timers and their clients stay out of a web-only process.
                from bot.runtime import Background

                await stack.enter_async_context(Background(container))
            else:
                # The worker role does this once its model is loaded; a web-only process
                # is started once the container is open.
                from bot.resident import release_file_pages

                release_file_pages()
            log.info("app.started", roles=sorted(roles), channels=sorted(container.channels))
            yield

    app = FastAPI(
        title="Switchboard",
        summary="Omnichannel chat-ops for IT service management.",
        version="0.1.0",
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI and ReDoc from CDNs; `install_docs` serves
        # the vendored Swagger UI instead.
        docs_url=None,
        redoc_url=None,
        telemetry=fastapi_telemetry(),
    )
    app.state.container = container
    direct: dict[tuple[str, str], Endpoint] = {}
    for channel in container.unique_channels():
        routes = channel.routes(container.ingest)
        app.router.routes.extend(routes)
        direct.update(_direct(routes))
    # Guards bounds the body while it streams in, so Starlette's own limit is not set.
    app.add_middleware(Guards, max_body_bytes=settings.max_body_bytes)
    if direct:
        app.add_middleware(
            DirectRoutes,
            routes=direct,
            handlers=lambda: app.exception_handlers,
            max_body_bytes=settings.max_body_bytes,
        )
    if container.web_first is not None:
        # Outermost, so a request counts from its first byte to its answer.
        app.add_middleware(CountWrites, gate=container.web_first)
    app.include_router(api_router)
    app.include_router(desk_api_router)
    app.include_router(cmdb_router)
    # Before the changes' own routes, whose `/{ref}` would take "calendar" for a reference.
    app.include_router(calendar_router)
    app.include_router(changes_router)
    app.include_router(problems_router)
    app.include_router(catalog_router)
    app.include_router(releases_router)
    install_web(app)
    install_docs(app)
    _operations(app, container)
    _errors(app)
    install_error_handlers(app)
    document_routes(app)
    return app


# Webhooks served beside the app's middleware (`bot.direct`): every platform's deliveries,
# whose acknowledgements run on the platform's clock (Slack gives up after 3 s), and the web
# chat's messages, the busiest of the page's calls. Other methods on their paths (the X and
# Meta handshakes) still reach the app's router.
DIRECT_ROUTES = frozenset(
    {
        "alerts",
        "meta-webhook",
        "slack-events",
        "telegram-webhook",
        "twilio-messages",
        "twilio-status",
        "webchat-messages",
        "x-webhook",
    }
)


def _direct(routes: Sequence[BaseRoute]) -> dict[tuple[str, str], Endpoint]:
    found: dict[tuple[str, str], Endpoint] = {}
    for route in routes:
        if isinstance(route, Route) and route.name in DIRECT_ROUTES:
            for method in route.methods or ():
                if method != "HEAD":
                    found[(method, route.path)] = route.endpoint
    return found


def _operations(app: FastAPI, c: Container) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness and readiness")
    async def healthz() -> Response:
        """200 when the database (and Redis, when configured) answer; 503 otherwise."""
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

    @app.get("/healthz/live", tags=["operations"], summary="Liveness")
    async def live() -> Response:
        """200 while the process serves requests, whatever the database and Redis do."""
        return JSONResponse({"status": "ok"})

    gauges = DeskGauges(c.reader)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        """This process's counters (every process's when multiprocess), then the desk figures."""
        try:
            metrics.QUEUE_DEPTH.set(await c.queue.depth())
        except Exception as e:
            log.warning("metrics.queue_depth_failed", error=str(e))
        body, media_type = metrics.exposition()
        return Response(body + await gauges.body(), media_type=media_type)


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
        # The type only: a driver's message can quote the statement and its parameters.
        log.warning("app.unavailable", error=type(exc).__name__, path=request.url.path)
        what = "Redis" if isinstance(exc, RedisError) else "the database"
        return JSONResponse(
            {"error": f"temporarily unavailable: {what} cannot be reached, retry shortly"},
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
