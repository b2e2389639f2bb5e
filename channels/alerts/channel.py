"""`AlertsChannel`: `POST /api/alerts`, always mounted; verify, parse, ingest, answer 202."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from channels.alerts.parse import PLATFORM, parse_alerts
from channels.alerts.verify import SecretsLookup, TokenLookup, integration_for
from channels.base import Delivery, Ingest, IngestOutcome
from channels.conversation import Address, Reply

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

PATH = "/api/alerts"
TOKEN_TTL = 10.0
"""Seconds a bearer token found valid is trusted without asking the store again."""
MAX_CACHED = 1000


class AlertsChannel:
    """Monitoring sources post here; they are told nothing back (replies are dropped)."""

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(self, *, tokens: TokenLookup | None, secrets: SecretsLookup | None) -> None:
        self._tokens = tokens
        self._secrets = secrets
        # Monitoring posts in bursts with one token: a valid one is remembered briefly (by its
        # digest), so the ack does not open a database session per alert. Unknown tokens are
        # never remembered; a revoked one is refused within TOKEN_TTL.
        self._known: dict[bytes, tuple[str, float]] = {}

    async def _token(self, token: str) -> str | None:
        if self._tokens is None:
            return None
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        hit = self._known.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        name = await self._tokens(token)
        if name is not None:
            if len(self._known) >= MAX_CACHED:
                self._known.clear()
            self._known[key] = (name, now + TOKEN_TTL)
        return name

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """`POST /api/alerts`: each alert of the body ingested, counted in a 202 answer."""
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def post(request: Request) -> Response:
            body = await request.body()
            integration = await integration_for(
                request.headers,
                body,
                tokens=self._token if self._tokens is not None else None,
                secrets=self._secrets,
            )
            alerts = parse_alerts(body, integration)
            # Every alert is durable before the answer; one group commit serves them all.
            outcomes = await asyncio.gather(*(ingest(a) for a in alerts))
            accepted = sum(1 for o in outcomes if o is IngestOutcome.ACCEPTED)
            return JSONResponse(
                {"accepted": accepted, "duplicates": len(outcomes) - accepted}, status_code=202
            )

        return [Route(PATH, post, methods=["POST"], name="alerts")]

    async def start(self) -> None:
        """Nothing to open: the channel has no client."""

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Nothing to send to a monitoring source; the reply is recorded as delivered."""
        return Delivery(detail="monitoring sources take no replies")

    async def aclose(self) -> None:
        """Nothing to close."""
