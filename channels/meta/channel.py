"""`MetaChannel`: Messenger and Instagram in through `/meta/webhook`, out through the Send API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import httpx
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels.base import Cursors, Delivery, DeliveryError, Ingest
from channels.conversation import Address, Event, Reply
from channels.meta.parse import PRODUCTS, decode_body, parse_delivery
from channels.meta.render import render
from channels.meta.send import DEFAULT_API_URL, WindowClosed, open_client, send_message
from channels.meta.verify import PLATFORM, SIGNATURE_HEADER, HandshakeRefused, handshake, verify
from channels.meta.window import permission

log = structlog.get_logger(__name__)

PATH = "/meta/webhook"


def window_key(address: Address) -> str:
    """The cursor holding the time of the person's last message in one conversation."""
    return f"meta:last_message:{address.channel}:{address.conversation}"


class MetaChannel:
    """Messenger (`object: page`) and Instagram (`object: instagram`) messaging.

    Both routes are always mounted. Without an app secret every POST is refused (401) and
    without a verify token the handshake is refused (403); without a page token events are
    accepted but replies wait.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = tuple(PRODUCTS.values())

    def __init__(
        self,
        *,
        cursors: Cursors,
        app_secret: str | None = None,
        verify_token: str | None = None,
        page_token: str | None = None,
        api_url: str = DEFAULT_API_URL,
        human_agent_tag: bool = False,
        hold_seconds: float = 120.0,
        hold_limit: timedelta = timedelta(days=7),
        timeout: float = 20.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cursors = cursors
        self._app_secret = app_secret or ""
        self._verify_token = verify_token or ""
        self._page_token = page_token or ""
        self._api_url = api_url
        self.human_agent_tag = human_agent_tag
        self.hold_seconds = hold_seconds
        self.hold_limit = hold_limit
        self.timeout = timeout
        self.clock = clock
        self._client: httpx.AsyncClient | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the Graph API client (inside the running loop) when a page token is set."""
        if self._client is None and self._page_token:
            self._client = open_client(self._api_url, self._page_token, timeout=self.timeout)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # -- webhook ----------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        async def subscribe(request: Request) -> Response:
            try:
                challenge = handshake(request.query_params, self._verify_token)
            except HandshakeRefused as e:
                log.warning("meta.handshake_refused", reason=str(e))
                return JSONResponse({"error": "verification failed"}, status_code=403)
            return PlainTextResponse(challenge)

        async def deliver(request: Request) -> Response:
            raw = await request.body()
            verify(raw, request.headers.getlist(SIGNATURE_HEADER), self._app_secret)
            events = parse_delivery(decode_body(raw))
            counts = {"accepted": 0, "duplicate": 0}
            for event in events:
                await self._opened(event)
                outcome = await ingest(event)
                counts[outcome.value] += 1
                log.info("meta.event", event_id=event.event_id, outcome=outcome.value)
            return JSONResponse(counts)

        return [
            Route(PATH, subscribe, methods=["GET"], name="meta-handshake"),
            Route(PATH, deliver, methods=["POST"], name="meta-webhook"),
        ]

    async def _opened(self, event: Event) -> None:
        """Remember when the person last wrote: that opens the messaging window.

        Written before the inbox has the event, so a reply cannot find the window older than
        the message it answers.
        """
        key = window_key(event.address)
        at = event.received_at
        try:
            known = await self.cursors.get(key)
            if known is None or datetime.fromisoformat(known) < at:
                await self.cursors.set(key, at.isoformat())
        except (ValueError, TypeError):
            await self.cursors.set(key, at.isoformat())

    async def last_message(self, address: Address) -> datetime | None:
        """When the person of a conversation last wrote, if known."""
        known = await self.cursors.get(window_key(address))
        if known is None:
            return None
        try:
            return datetime.fromisoformat(known)
        except ValueError:
            return None

    # -- sending ----------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Send a reply within the messaging window, or hold it until the person writes."""
        if address.channel not in self.platforms:
            raise DeliveryError(
                f"not a Meta address: {address.channel}", platform=PLATFORM, permanent=True
            )
        if not address.conversation.isdigit():
            raise DeliveryError("no page-scoped id to reply to", platform=PLATFORM, permanent=True)
        if self._client is None:
            raise DeliveryError(
                "the Meta channel has no META_PAGE_TOKEN", platform=PLATFORM, retry_after=300.0
            )
        allowed = permission(
            await self.last_message(address),
            self.clock(),
            # Meta permits the tag only on a person's own answer, never on the bot's words.
            human_agent=self.human_agent_tag and reply.human,
            hold_limit=self.hold_limit,
        )
        if allowed.expired:
            raise DeliveryError(
                "the person has not written for too long; the reply is given up",
                platform=PLATFORM,
                permanent=True,
            )
        if allowed.fields is None:
            raise self._held()
        body = {"recipient": {"id": address.conversation}, **allowed.fields}
        body["message"] = render(reply)
        try:
            mid = await send_message(self._client, body)
        except WindowClosed as e:
            raise self._held() from e
        log.info("meta.sent", channel=address.channel, message_id=mid)
        return Delivery(external_id=mid, detail=allowed.fields["messaging_type"].lower())

    def _held(self) -> DeliveryError:
        return DeliveryError(
            "outside the messaging window: held until the person writes again",
            platform=PLATFORM,
            retry_after=self.hold_seconds,
            hold=True,
        )
