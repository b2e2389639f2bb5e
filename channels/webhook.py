"""Outbound webhooks (catalog automations): a signed JSON POST per outbox row.

Send-only: there are no inbound routes. An outbox row on platform `webhook` carries the URL
as its conversation, the task reference (`REQ-4/2`) as its user and the JSON body as its
reply text. Each POST is signed with HMAC-SHA256 of the body under `WEBHOOK_SECRET`
(`X-Switchboard-Signature: sha256=<hex>`) and carries the outbox row's delivery id
(`X-Switchboard-Delivery`), the same on every retry, so the service can ignore a repeat.

What the service answers comes back through the inbox as an `automation_result` action:
a 2xx completes the task, any other 4xx fails it. A timeout, a connection error, 408, 429
or 5xx is retried by the dispatcher with back-off; when it gives up, `gave_up` fails the
task. Nothing here waits on a worker, and a worker never waits on the service.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from channels.base import Delivery, DeliveryError, Ingest
from channels.conversation import Action, Address, Identity, Reply

if TYPE_CHECKING:
    import httpx
    from starlette.routing import BaseRoute

PLATFORM = "webhook"
RESULT = "automation_result"
SIGNATURE = "X-Switchboard-Signature"
DELIVERY = "X-Switchboard-Delivery"
_RETRY = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    """The signature header's value for a body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """Delivers `webhook` outbox rows: POST, then the answer back in through `ingest`."""

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        secret: bytes | None,
        *,
        ingest: Ingest | None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._secret = secret
        self._ingest = ingest
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """None: the service's answer to each POST is its result."""
        return ()

    async def start(self) -> None:
        """Nothing to open yet: the HTTP client is made by the first automation to send.

        The channel is on in every process, and most never post a webhook; a client's TLS
        context (the CA bundle, parsed) costs each of them about 3 MB.
        """

    def _open(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use; it follows no redirect: the URL is as configured."""
        if self._client is None:
            import httpx  # with the client: a process that posts no webhook never loads it

            self._client = httpx.AsyncClient(
                timeout=self._timeout, follow_redirects=False, transport=self._transport
            )
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def find_delivery(self, address: Address, reply: Reply) -> Delivery | None:
        """None: an interrupted POST is sent again, and its delivery id shows the repeat."""
        return None

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """POST the signed body; the service's answer goes back in as the task's result."""
        if not self._secret:
            await self._result(address, reply, ok=False, detail="WEBHOOK_SECRET is not set")
            raise DeliveryError("WEBHOOK_SECRET is not set", platform=PLATFORM, permanent=True)
        import httpx

        client = self._open()
        body = reply.text.encode()
        delivery = reply.delivery_key or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Switchboard",
            SIGNATURE: sign(self._secret, body),
            DELIVERY: delivery,
        }
        try:
            response = await client.post(address.conversation, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("timed out", platform=PLATFORM) from None
        except httpx.HTTPError as e:
            raise DeliveryError(f"unreachable ({type(e).__name__})", platform=PLATFORM) from None
        status = response.status_code
        if status in _RETRY or status >= 500:
            raise DeliveryError(
                f"HTTP {status}", platform=PLATFORM, retry_after=_retry_after(response)
            )
        ok = 200 <= status < 300
        await self._result(address, reply, ok=ok, detail=f"HTTP {status}: {_said(response)}")
        return Delivery(external_id=delivery or None, detail=str(status))

    async def gave_up(self, address: Address, reply: Reply, error: str) -> None:
        """The dispatcher stopped retrying: the task fails with the last error."""
        await self._result(address, reply, ok=False, detail=f"gave up after retries: {error}")

    async def _result(self, address: Address, reply: Reply, *, ok: bool, detail: str) -> None:
        if self._ingest is None:
            return
        outcome = "done" if ok else "failed"
        action = Action(
            event_id=f"{reply.delivery_key or address.user}:{outcome}",
            address=address,
            sender=Identity(platform=PLATFORM, external_id="automation", display_name="Automation"),
            name=RESULT,
            value=address.user,
            params={"task": address.user, "outcome": outcome, "detail": detail[:1000]},
        )
        try:
            await self._ingest(action)
        except Exception as e:
            # The answer could not be recorded: post again later (the service sees the same
            # delivery id and may answer from what it already did).
            raise DeliveryError(f"result not stored: {e!r}", platform=PLATFORM) from None


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        return min(max(float(raw), 0.0), 3600.0) if raw else None
    except ValueError:
        return None


def _said(response: httpx.Response) -> str:
    """A short account of the answer: a JSON `message`/`detail`/`status`, else the text."""
    text = response.text[:2000]
    try:
        data = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or response.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "detail", "status", "result"):
            if isinstance(data.get(key), str):
                return str(data[key])[:300]
    return " ".join(text.split())[:300]
