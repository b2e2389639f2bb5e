"""Webhook routes served beside the app's middleware, with the same guards and error answers.

A webhook's acknowledgement is on the platform's clock (Slack gives up after 3 s and
retries), and it needs nothing of what the app's stack adds for people and the API: session
cookies, dependency scopes, route matching among a few hundred API routes. `DirectRoutes`
hands the requests it knows (by method and path) to their endpoint behind `Guards` alone,
and answers an exception with the app's own exception handlers, so a forged request is
still a 401, a malformed one a 400 and a database outage a 503; the route stays in the
app's router as well, for the API documentation and every other method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.guards import Guards

log = structlog.get_logger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]
Handlers = Callable[[], Mapping[Any, Callable[[Request, Exception], Any]]]


class DirectRoutes:
    """ASGI middleware: the requests of `routes` to their endpoint, all others to `app`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[tuple[str, str], Endpoint],
        handlers: Handlers,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.handlers = handlers
        self.routes: dict[tuple[str, str], ASGIApp] = {
            key: Guards(_Serve(endpoint, handlers), max_body_bytes=max_body_bytes)
            for key, endpoint in routes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, directly when its method and path are one of `routes`."""
        if scope["type"] == "http":
            direct = self.routes.get((scope["method"], scope["path"]))
            if direct is not None:
                await direct(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _Serve:
    """One endpoint as an ASGI app; its exceptions answered as the app answers them."""

    def __init__(self, endpoint: Endpoint, handlers: Handlers) -> None:
        self.endpoint = endpoint
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            response = await self._answer(request, exc)
        await response(scope, receive, send)

    async def _answer(self, request: Request, exc: Exception) -> Response:
        handlers = self.handlers()
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                answer = handler(request, exc)
                if isinstance(answer, Awaitable):
                    answer = await answer
                if not isinstance(answer, Response):
                    break
                return answer
        # What Starlette's ServerErrorMiddleware answers; the log says what went wrong.
        log.exception("app.error", path=request.url.path, error=type(exc).__name__)
        return PlainTextResponse("Internal Server Error", status_code=500)
