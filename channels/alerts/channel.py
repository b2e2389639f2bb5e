"""`AlertsChannel`: `POST /api/alerts`, always mounted; verify, parse, ingest, answer 202."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.alerts.parse import PLATFORM, parse_alerts
from channels.alerts.verify import SecretsLookup, TokenLookup, integration_for
from channels.base import Delivery, Ingest, IngestOutcome
from channels.conversation import Address, Reply

PATH = "/api/alerts"


class AlertsChannel:
    """Monitoring sources post here; they are told nothing back (replies are dropped)."""

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(self, *, tokens: TokenLookup | None, secrets: SecretsLookup | None) -> None:
        self._tokens = tokens
        self._secrets = secrets

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        async def post(request: Request) -> Response:
            body = await request.body()
            integration = await integration_for(
                request.headers, body, tokens=self._tokens, secrets=self._secrets
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
        return None

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Nothing to send to a monitoring source; the reply is recorded as delivered."""
        return Delivery(detail="monitoring sources take no replies")

    async def aclose(self) -> None:
        return None
