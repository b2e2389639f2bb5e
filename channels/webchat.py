"""Web chat: a small page at `/` and the JSON API behind it.

A visitor gets an id signed with the deployment's secret and the time (itsdangerous); every
later call carries it, so one visitor cannot read or write another's conversation. A token
lives `token_max_age` seconds (a day by default) and every accepted call returns one in the
`X-Webchat-Token` response header: the same token while it is younger than `RENEW_AFTER`, a
fresh one after, so only an idle conversation expires; an expired token gets a 401 with
`"expired": true`, and the page starts a new session. Replies are not
pushed: the page asks for replies newer than the last it has (long polling), read from the
outbox.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any, ClassVar

from channels.base import Delivery, Ingest, PayloadError, SignatureError
from channels.conversation import Action, Address, Identity, Message, Reply

if TYPE_CHECKING:
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import BaseRoute

History = Callable[[str, int], Awaitable[list[tuple[int, Reply]]]]
"""Replies of a conversation (by `Address.key`) with ids greater than the given one."""

Identify = Callable[["Request"], Awaitable[str | None]]
"""The conversation of the person signed in to the web pages (`u_…`), or None."""

MAX_TEXT = 20_000
MAX_ID = 100
HEADER = "x-webchat-token"
TOKEN_MAX_AGE = 24 * 3600.0
RENEW_AFTER = 300
"""Seconds after which an accepted call answers with a renewed token (at most a quarter of
the token's life): a chat posts several times a minute, and signing each answer was most of
what a message cost the web process."""
VERIFIED_KEPT = 10_000
"""Tokens whose signature was checked, remembered with their time so a visitor's next calls
skip the check; the oldest are forgotten first."""
_SALT = "switchboard.webchat"


class ExpiredTokenError(SignatureError):
    """A genuine token whose time is up: the page starts a new session."""


def render(reply: Reply) -> dict[str, Any]:
    """A reply as the page draws it."""
    return {
        "text": reply.text,
        "buttons": [
            {"label": b.label, "action": b.action, "value": b.value, "style": b.style.value}
            for b in reply.buttons
        ],
        "card": reply.card.to_dict() if reply.card else None,
        "ticket_ref": reply.ticket_ref,
    }


class WebChatChannel:
    """The browser chat served by the web process."""

    name: ClassVar[str] = "webchat"
    platforms: ClassVar[tuple[str, ...]] = ("webchat",)

    def __init__(
        self,
        *,
        secret: bytes | Callable[[], bytes],
        history: History,
        poll_interval: float = 0.25,
        max_wait: float = 20.0,
        token_max_age: float = TOKEN_MAX_AGE,
    ) -> None:
        self._secret_source = secret
        self._history = history
        self.poll_interval = poll_interval
        self.max_wait = max_wait
        self.token_max_age = token_max_age
        self._identify: Identify | None = None
        self._keys: tuple[bytes, URLSafeTimedSerializer, TimestampSigner] | None = None
        self._verified: dict[str, tuple[str, int]] = {}

    def use_identify(self, identify: Identify) -> None:
        """Let a person signed in to the web pages chat as themselves (`u_…` conversations).

        Such a token is honoured only while the same person is still signed in.
        """
        self._identify = identify

    # -- identity -------------------------------------------------------------------------

    def issue(self) -> tuple[str, str]:
        """A new visitor id and its token."""
        visitor = "v_" + secrets.token_urlsafe(12)
        return visitor, self.token_for(visitor)

    def token_for(self, visitor: str) -> str:
        """A fresh token for a visitor (a new session, or the renewal of a used one)."""
        return str(self._serializer().dumps(visitor))

    def renewed(self, visitor: str, token: str) -> str:
        """The token to answer an accepted call with: `token` itself while it is young."""
        known = self._verified.get(token)
        if known is not None and known[0] == visitor:
            _, signer = self._signing()
            renew_after = min(RENEW_AFTER, self.token_max_age / 4)
            if 0 <= signer.get_timestamp() - known[1] < renew_after:
                return token
        return self.token_for(visitor)

    def _serializer(self) -> URLSafeTimedSerializer:
        return self._signing()[0]

    def _signing(self) -> tuple[URLSafeTimedSerializer, TimestampSigner]:
        source = self._secret_source
        secret = source() if callable(source) else source
        if len(secret) < 16:
            raise ValueError("the web chat secret must be at least 16 bytes")
        if self._keys is None or self._keys[0] != secret:
            # Imported on first use: the web role signs and checks tokens, a worker only sends.
            from itsdangerous import TimestampSigner, URLSafeTimedSerializer

            # A new secret (first use, or rotated) invalidates every token checked before.
            serializer = URLSafeTimedSerializer(secret, salt=_SALT)
            signer = serializer.make_signer(_SALT)
            if not isinstance(signer, TimestampSigner):
                raise TypeError("the web chat serializer must sign with a timestamp")
            self._keys = (secret, serializer, signer)
            self._verified.clear()
        return self._keys[1], self._keys[2]

    def verify(self, token: str | None) -> str:
        """The anonymous visitor id of a valid token; `SignatureError` otherwise.

        `ExpiredTokenError` (a `SignatureError`) when it was genuine but is too old.
        """
        visitor = self._decode(token)
        if not visitor.startswith("v_"):
            raise SignatureError("invalid web chat token", platform=self.name)
        return visitor

    def _decode(self, token: str | None) -> str:
        if not token or len(token) > 200:
            raise SignatureError("missing or malformed web chat token", platform=self.name)
        serializer, signer = self._signing()
        max_age = int(self.token_max_age)
        known = self._verified.get(token)
        if known is not None:
            visitor, signed_at = known
            # The age test itsdangerous applies to a token it checks, on the same clock.
            if not 0 <= signer.get_timestamp() - signed_at <= max_age:
                raise ExpiredTokenError("the web chat session has expired", platform=self.name)
            return visitor
        from itsdangerous import BadSignature, SignatureExpired

        try:
            visitor, when = serializer.loads(token, max_age=max_age, return_timestamp=True)
        except SignatureExpired as e:
            raise ExpiredTokenError("the web chat session has expired", platform=self.name) from e
        except BadSignature as e:
            raise SignatureError("invalid web chat token", platform=self.name) from e
        if (
            not isinstance(visitor, str)
            or not visitor.startswith(("v_", "u_"))
            or len(visitor) > 40
        ):
            raise SignatureError("invalid web chat token", platform=self.name)
        if len(self._verified) >= VERIFIED_KEPT:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (visitor, int(when.timestamp()))
        return visitor

    async def visitor_of(self, request: Request) -> str:
        """The conversation a request's token names, a signed-in person's only while they are."""
        visitor = self._decode(request.headers.get(HEADER))
        if visitor.startswith("u_"):
            current = await self._identify(request) if self._identify is not None else None
            if current != visitor:
                raise ExpiredTokenError("the signed-in chat has ended", platform=self.name)
        return visitor

    def address(self, visitor: str) -> Address:
        """The visitor's one conversation: the visitor is both its id and its user."""
        return Address(channel=self.name, conversation=visitor, user=visitor)

    # -- parsing --------------------------------------------------------------------------

    @staticmethod
    def parse(body: bytes, visitor: str, address: Address) -> Message | Action:
        """A posted message or button click as an event (`PayloadError` when malformed)."""
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise PayloadError("body is not JSON", platform="webchat") from e
        if not isinstance(data, dict):
            raise PayloadError("body must be a JSON object", platform="webchat")
        client_id = data.get("id")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= MAX_ID:
            raise PayloadError("`id` must be a string of 1-100 characters", platform="webchat")
        sender = Identity(platform="webchat", external_id=visitor)
        event_id = f"{visitor}:{client_id}"
        now = datetime.now(UTC)
        if "action" in data:
            action, value = data.get("action"), data.get("value", "")
            if not isinstance(action, str) or not action or len(action) > 64:
                raise PayloadError("`action` must be a short string", platform="webchat")
            if not isinstance(value, str) or len(value) > 200:
                raise PayloadError("`value` must be a short string", platform="webchat")
            return Action(
                event_id=event_id,
                address=address,
                sender=sender,
                name=action,
                value=value,
                received_at=now,
            )
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise PayloadError("`text` must be a non-empty string", platform="webchat")
        if len(text) > MAX_TEXT:
            raise PayloadError(f"`text` is longer than {MAX_TEXT} characters", platform="webchat")
        return Message(
            event_id=event_id,
            address=address,
            sender=sender,
            text=text,
            received_at=now,
            direct=True,
        )

    # -- routes ---------------------------------------------------------------------------

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """The page at `/`, and its session, messages and long-polled replies endpoints."""
        from starlette.responses import HTMLResponse, JSONResponse
        from starlette.routing import Route

        async def page(request: Request) -> Response:
            html = resources.files("channels").joinpath("webchat.html").read_text("utf-8")
            return HTMLResponse(html, headers={"Content-Security-Policy": _CSP})

        async def session(request: Request) -> Response:
            # Signed in to the web pages: their own conversation. Else the visitor the page
            # already has (when its token is still good), or a new one.
            person = await self._identify(request) if self._identify is not None else None
            if person is not None:
                return JSONResponse(
                    {"visitor": person, "token": self.token_for(person), "signed_in": True}
                )
            try:
                visitor = self.verify(request.headers.get(HEADER))
                token = self.token_for(visitor)
            except SignatureError:
                visitor, token = self.issue()
            return JSONResponse({"visitor": visitor, "token": token, "signed_in": False})

        def expired() -> Response:
            return JSONResponse(
                {"error": "the web chat session has expired; start a new one", "expired": True},
                status_code=401,
            )

        async def post(request: Request) -> Response:
            try:
                visitor = await self.visitor_of(request)
            except ExpiredTokenError:
                return expired()
            event = self.parse(await request.body(), visitor, self.address(visitor))
            outcome = await ingest(event)
            return JSONResponse(
                {"status": outcome.value},
                status_code=202,
                headers={"X-Webchat-Token": self.renewed(visitor, request.headers[HEADER])},
            )

        async def replies(request: Request) -> Response:
            try:
                visitor = await self.visitor_of(request)
            except ExpiredTokenError:
                return expired()
            try:
                after = int(request.query_params.get("after", "0"))
                wait = float(request.query_params.get("wait", str(self.max_wait)))
            except ValueError as e:
                raise PayloadError("`after` and `wait` must be numbers", platform=self.name) from e
            key = self.address(visitor).key
            deadline = time.monotonic() + max(0.0, min(wait, self.max_wait))
            found = await self._history(key, after)
            while not found and time.monotonic() < deadline:
                if await request.is_disconnected():
                    break
                await asyncio.sleep(self.poll_interval)
                found = await self._history(key, after)
            return JSONResponse(
                {"replies": [{"id": i, **render(r)} for i, r in found]},
                headers={
                    "Cache-Control": "no-store",
                    "X-Webchat-Token": self.renewed(visitor, request.headers[HEADER]),
                },
            )

        return [
            Route("/", page, methods=["GET"], name="webchat-page"),
            Route("/webchat/session", session, methods=["POST"]),
            Route("/webchat/messages", post, methods=["POST"], name="webchat-messages"),
            Route("/webchat/replies", replies, methods=["GET"]),
        ]

    async def start(self) -> None:
        """Nothing to open."""

    async def aclose(self) -> None:
        """Nothing to close."""

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Nothing to push: the page collects committed replies itself."""
        return Delivery(detail="stored")


_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
