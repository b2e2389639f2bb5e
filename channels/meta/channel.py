"""`MetaChannel`: Messenger and Instagram in through `/meta/webhook`, out through the Send API."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ClassVar

import structlog

from channels.base import (
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    MemoryPlatformState,
    PlatformStateStore,
)
from channels.conversation import Address, Event, Reply
from channels.meta.comments import comment_id
from channels.meta.parse import PRODUCTS, decode_body, parse_delivery
from channels.meta.private import Claim, PrivateReplies
from channels.meta.render import public_text, render
from channels.meta.send import (
    DEFAULT_API_URL,
    WindowClosed,
    open_client,
    reply_in_public,
    send_message,
)
from channels.meta.state import WINDOW, LastMessages, legacy_key, rule_state
from channels.meta.verify import PLATFORM, SIGNATURE_HEADER, HandshakeRefused, handshake, verify
from channels.meta.window import permission

if TYPE_CHECKING:
    import httpx
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

log = structlog.get_logger(__name__)

PATH = "/meta/webhook"


def window_key(address: Address) -> str:
    """The cursor where older releases kept the time of the person's last message."""
    return legacy_key(WINDOW, address.channel, address.conversation)


class MetaChannel:
    """Messenger (`object: page`) and Instagram (`object: instagram`) messaging and comments.

    A public comment on the page's posts or the account's media is answered once, privately
    (`recipient.comment_id`), with a short public acknowledgement under it when the reply
    names a ticket; everything after goes to the person's thread under the window rules.

    Both routes are always mounted. Without an app secret every POST is refused (401) and
    without a verify token the handshake is refused (403); without a page token events are
    accepted but replies wait.

    `platform_state` keeps when each person last wrote and the private-reply marks (in
    memory when not given); `cursors` is still read for values older releases kept there.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = tuple(PRODUCTS.values())

    def __init__(
        self,
        *,
        cursors: Cursors | None = None,
        platform_state: PlatformStateStore | None = None,
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
        self.platform_state = platform_state or MemoryPlatformState()
        self.private = PrivateReplies(cursors, store=self.platform_state)
        self._last_messages = LastMessages(rule_state(self.platform_state, cursors))
        self._client: httpx.AsyncClient | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the Graph API client (inside the running loop) when a page token is set."""
        if self._client is None and self._page_token:
            self._client = open_client(self._api_url, self._page_token, timeout=self.timeout)

    async def aclose(self) -> None:
        """Close the Graph API client; the next send opens a new one."""
        if self._client is not None:
            await self._client.aclose()
        self._client = None

    # -- webhook ----------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """The webhook: the subscription handshake and signed event deliveries."""
        from starlette.responses import JSONResponse, PlainTextResponse
        from starlette.routing import Route

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
                await self._seen(event)
                outcome = await ingest(event)
                counts[outcome.value] += 1
                log.info("meta.event", event_id=event.event_id, outcome=outcome.value)
            return JSONResponse(counts)

        return [
            Route(PATH, subscribe, methods=["GET"], name="meta-handshake"),
            Route(PATH, deliver, methods=["POST"], name="meta-webhook"),
        ]

    async def _seen(self, event: Event) -> None:
        """Mark a comment as awaiting its private reply, or a message as opening the window.

        A public comment does not open the messaging window (Meta's rule), so it only marks.
        """
        cid = comment_id(event)
        if cid is None:
            await self._opened(event)
            return
        try:
            await self.private.await_reply(
                event.address.channel, event.address.conversation, cid, event.received_at
            )
        except Exception as e:
            log.warning("meta.comment_mark_failed", comment_id=cid, error=repr(e))

    async def _opened(self, event: Event) -> None:
        """Remember when the person last wrote: that opens the messaging window.

        Written before the inbox has the event, so a reply cannot find the window older than
        the message it answers.
        """
        await self._last_messages.wrote(
            event.address.channel, event.address.conversation, event.received_at
        )

    async def last_message(self, address: Address) -> datetime | None:
        """When the person of a conversation last wrote, if known."""
        return await self._last_messages.at(address.channel, address.conversation)

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
        now = self.clock()
        claim = await self.private.claim(address.channel, address.conversation, now)
        if claim is not None:
            delivered = await self._private_reply(self._client, address, reply, claim)
            if delivered is not None:
                return delivered
        last = await self.last_message(address)
        if last is None:
            commented = await self.private.pending(address.channel, address.conversation)
            if commented is not None:
                # Known only from a public comment: the page may not write first.
                if now - commented.at > self.hold_limit:
                    raise self._expired()
                raise self._held()
        allowed = permission(
            last,
            now,
            # Meta permits the tag only on a person's own answer, never on the bot's words.
            human_agent=self.human_agent_tag and reply.human,
            hold_limit=self.hold_limit,
        )
        if allowed.expired:
            raise self._expired()
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

    async def _private_reply(
        self, client: httpx.AsyncClient, address: Address, reply: Reply, claim: Claim
    ) -> Delivery | None:
        """Answer the person's comment privately; None when Meta will not take it.

        The private reply needs no open window (it is allowed for seven days after the
        comment), so it carries no tag.
        """
        body = {
            "recipient": {"comment_id": claim.comment_id},
            "messaging_type": "RESPONSE",
            "message": render(reply),
        }
        try:
            mid = await send_message(client, body)
        except DeliveryError as e:
            if isinstance(e, WindowClosed) or e.permanent:
                # Answered already, deleted, or too old: the thread is the only way left.
                log.warning("meta.private_reply_refused", comment_id=claim.comment_id)
                return None
            if not e.ambiguous:
                await self.private.release(address.channel, address.conversation, claim)
            raise
        log.info("meta.private_reply", channel=address.channel, message_id=mid)
        public = await self._acknowledge(client, address.channel, claim.comment_id, reply)
        return Delivery(
            external_id=mid, detail="private_reply+public" if public else "private_reply"
        )

    async def _acknowledge(
        self, client: httpx.AsyncClient, channel: str, cid: str, reply: Reply
    ) -> bool:
        """Say under the comment that it is tracked and answered privately, as on X.

        Only the ticket reference goes in public. Best effort: the private reply has gone,
        so a failure here is logged and never makes the reply be sent again.
        """
        text = public_text(reply.ticket_ref)
        if text is None:
            return False
        try:
            posted = await reply_in_public(client, channel, cid, text)
        except DeliveryError as e:
            log.warning("meta.public_reply_failed", comment_id=cid, error=str(e))
            return False
        log.info("meta.public_reply", channel=channel, in_reply_to=cid, comment_id=posted)
        return True

    def _expired(self) -> DeliveryError:
        return DeliveryError(
            "the person has not written for too long; the reply is given up",
            platform=PLATFORM,
            permanent=True,
        )

    def _held(self) -> DeliveryError:
        return DeliveryError(
            "outside the messaging window: held until the person writes again",
            platform=PLATFORM,
            retry_after=self.hold_seconds,
            hold=True,
        )
