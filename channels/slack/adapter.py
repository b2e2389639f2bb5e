"""`SlackChannel`: Slack's events, `/ticket`, shortcuts, buttons and forms in; Block Kit out.

One slack-bolt `AsyncApp` serves `POST /slack/events` (Events API, slash commands and
interactivity alike) and, when an app-level token is set, Socket Mode. The route checks the
signature once on the raw bytes, reads the body once, and hands bolt the parsed body; bolt
answers Slack after the listener has stored the event (`process_before_response`), so a 200
means the event is durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import aiohttp
import structlog
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware.authorization.internals import no_auth_test_events
from slack_bolt.middleware.ignoring_self_events.ignoring_self_events import IgnoringSelfEvents
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import extract_user_id
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from channels.base import ChannelError, Delivery, Ingest
from channels.catalog_forms import CatalogForms
from channels.conversation import Address, Identity, Reply
from channels.slack.desk import Names, SlackDesk
from channels.slack.envelope import read_body
from channels.slack.help import HelpSettings
from channels.slack.ids import PLATFORM
from channels.slack.listeners import Listeners, build_app
from channels.slack.send import Sender
from channels.slack.verify import verify

log = structlog.get_logger(__name__)

# slack-sdk logs whole request bodies (message text, and the token in form bodies) and
# Socket Mode frames at DEBUG, bolt whole payloads: they are kept at INFO and above.
_SDK_LOGGERS = ("slack_sdk", "slack_bolt")


def quiet_sdk_logs() -> None:
    """Keep the Slack SDKs' loggers at INFO or above, whatever the root level."""
    for name in _SDK_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class _EventContext:
    """What the event listener reads of bolt's context."""

    bot_user_id: str | None


_TEXT = "text/plain;charset=utf-8"


def _acknowledged() -> Response:
    # bolt's acknowledgement of an event, as its Starlette adapter writes it.
    return Response(status_code=200, content="", headers={"content-type": _TEXT})


class SlackUnavailableError(ChannelError):
    """Slack could not be asked something the request needs (auth.test); Slack retries."""


class SlackChannel:
    """Slack through one bolt app: webhook route, Socket Mode, and a Web API client.

    The client is opened in `start()` with slack-sdk's own retries switched off: the
    outbox dispatcher owns retries, waits and the shared rate limit.
    """

    name: ClassVar[str] = PLATFORM
    platforms: ClassVar[tuple[str, ...]] = (PLATFORM,)

    def __init__(
        self,
        *,
        bot_token: str,
        signing_secret: str = "",
        app_token: str = "",
        api_url: str = "https://slack.com/api/",
        services: Names | None = None,
        timeout: float = 10.0,
        profile_ttl: float = 3600.0,
        services_ttl: float = 60.0,
        help_channels: Sequence[str] = (),
        stored_help_channels: Names | None = None,
        ticket_reaction: str = "ticket",
        catalog: CatalogForms | None = None,
    ) -> None:
        self._bot_token = bot_token
        self._signing_secret = signing_secret
        self._app_token = app_token
        self.api_url = api_url if api_url.endswith("/") else api_url + "/"
        self.timeout = timeout
        self.profile_ttl = profile_ttl
        self.services_ttl = services_ttl
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._bolt: AsyncApp | None = None
        self._listeners: Listeners | None = None
        self._sender: Sender | None = None
        self._ingest: Ingest | None = None
        self._auth: AuthorizeResult | None = None
        self._auth_lock = asyncio.Lock()
        self._profiles: dict[str, tuple[float, Identity]] = {}
        self._help = HelpSettings(
            channels=frozenset(c.strip() for c in help_channels if c.strip()),
            ticket_reaction=ticket_reaction.strip(":") or "ticket",
        )
        self._desk = SlackDesk(
            services=services,
            help_channels=stored_help_channels,
            catalog=catalog,
            ttl=services_ttl,
        )

    @property
    def help(self) -> HelpSettings:
        """The help channels and ticket reaction given at construction (the environment)."""
        return self._help

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the Web API clients and build the bolt app (inside the running loop)."""
        if self._client is not None:
            return
        quiet_sdk_logs()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._client = self._web_client(self._bot_token)
        self._listeners = Listeners(self._client, desk=self._desk, help=self._help)
        self._listeners.ingest = self._ingest
        # bolt gets the token through `authorize`, so its own client carries none.
        self._bolt = build_app(self._web_client(None), self._listeners, self._authorize)
        self._sender = Sender(self._client)

    def _web_client(self, token: str | None) -> AsyncWebClient:
        return AsyncWebClient(
            token=token,
            base_url=self.api_url,
            timeout=max(1, int(self.timeout)),
            session=self._session,
            retry_handlers=[],
            logger=logging.getLogger("slack_sdk.web"),
        )

    async def aclose(self) -> None:
        """Close the HTTP session (after the reactions still being added)."""
        if self._listeners is not None:
            await self._listeners.drain()
        if self._session is not None:
            await self._session.close()
        self._session = self._client = self._bolt = None
        self._listeners = self._sender = None

    def _web(self) -> AsyncWebClient:
        if self._client is None:
            raise ChannelError("the Slack channel is not started", platform=PLATFORM)
        return self._client

    async def _authorize(self) -> AuthorizeResult:
        """Who the bot is (`auth.test`, asked once); raising makes Slack deliver again."""
        if self._auth is not None:
            return self._auth
        async with self._auth_lock:
            if self._auth is None:
                try:
                    found = await self._web().auth_test()
                except (SlackApiError, aiohttp.ClientError, TimeoutError) as e:
                    # An AuthorizeResult of None would make bolt answer 200 and drop the event.
                    raise SlackUnavailableError(
                        f"auth.test failed: {type(e).__name__}", platform=PLATFORM
                    ) from e
                self._auth = AuthorizeResult.from_auth_test_response(
                    bot_token=self._bot_token, auth_test_response=found
                )
                log.info("slack.authorized", team=self._auth.team_id, bot=self._auth.bot_user_id)
        return self._auth

    # -- inbound --------------------------------------------------------------------------

    def _set_ingest(self, ingest: Ingest) -> None:
        self._ingest = ingest
        if self._listeners is not None:
            self._listeners.ingest = ingest

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """`POST /slack/events`: verify, read, dispatch through bolt; errors surface as raised."""
        self._set_ingest(ingest)

        async def events(request: Request) -> Response:
            raw = await request.body()
            verify(raw, request.headers, secret=self._signing_secret, now=time.time())
            body = read_body(raw, request.headers.get("content-type", ""))
            app = self._bolt
            if app is None:
                return JSONResponse({"error": "not started"}, status_code=503)
            if body.get("type") == "event_callback" and self._listeners is not None:
                return await self._event(body, self._listeners)
            headers: dict[str, str | Sequence[str]] = {
                k: request.headers.getlist(k) for k in request.headers
            }
            # bolt takes a parsed body only in its Socket Mode form; verified and read
            # already, the request needs nothing else of its HTTP form.
            bolt_request = AsyncBoltRequest(body=body, headers=headers, mode="socket_mode")
            try:
                answer = await app.async_dispatch(bolt_request)
            except BoltUnhandledRequestError:
                log.info("slack.ignored", kind=str(body.get("type") or "unknown"))
                return Response(status_code=200)
            return to_starlette_response(answer)

        return [Route("/slack/events", events, methods=["POST"], name="slack-events")]

    async def _event(self, body: dict[str, Any], listeners: Listeners) -> Response:
        """An Events API callback, handed to the listener as bolt would, without its dispatch.

        Events are acknowledged once the listener has stored them and need nothing else of
        bolt: no `ack` arguments, no per-request Web API client (bolt builds one for every
        request it dispatches). What bolt's middleware does for an event is done here the
        same way: the workspace's authorization (except for the events that revoke it), and
        the bot's own events acknowledged and dropped. A listener's error is raised as it is.
        """
        event = body["event"]
        auth: AuthorizeResult | None = None
        if event.get("type") not in no_auth_test_events:
            auth = await self._authorize()
            bot_id = event.get("bot_id")
            if IgnoringSelfEvents._is_self_event(auth, extract_user_id(body), bot_id, body):
                return _acknowledged()
        await listeners.on_event(body, _EventContext(auth.bot_user_id if auth else None))
        return _acknowledged()

    # -- Socket Mode ----------------------------------------------------------------------

    @property
    def polls(self) -> bool:
        """Socket Mode runs only with an app-level token."""
        return bool(self._app_token)

    async def run(self, ingest: Ingest, stop: asyncio.Event) -> None:
        """Receive events over Socket Mode until `stop` is set (only with an app token).

        slack-sdk's client connects, and reconnects after a lost connection, by itself.
        """
        if not self._app_token:
            return
        from channels.slack.socket_mode import SocketHandler

        self._set_ingest(ingest)
        if self._bolt is None:
            await self.start()
        assert self._bolt is not None
        handler = SocketHandler(self._bolt, app_token=self._app_token, web_client=self._client)
        # connect_async() keeps retrying until it is connected, so it races with `stop`.
        connecting = asyncio.create_task(handler.connect_async())  # type: ignore[no-untyped-call]
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {connecting, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            if connecting in done:
                connecting.result()
                log.info("slack.socket_connected")
                await stopping
        finally:
            for task in (connecting, stopping):
                task.cancel()
            await asyncio.gather(connecting, stopping, return_exceptions=True)
            await handler.close_async()  # type: ignore[no-untyped-call]
            log.info("slack.socket_closed")

    # -- profiles -------------------------------------------------------------------------

    async def profile(self, identity: Identity) -> Identity:
        """The sender with their workspace email and name (`users.info`, cached)."""
        if identity.platform != PLATFORM:
            return identity
        now = time.monotonic()
        cached = self._profiles.get(identity.external_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._web().users_info(user=identity.external_id)
        user = found.get("user") or {}
        prof = user.get("profile") or {}
        email = prof.get("email") if isinstance(prof.get("email"), str) else None
        if user.get("is_bot") or user.get("deleted") or user.get("is_email_confirmed") is False:
            email = None
        name = next(
            (
                v
                for v in (prof.get("real_name"), prof.get("display_name"), user.get("name"))
                if isinstance(v, str) and v.strip()
            ),
            None,
        )
        known = replace(
            identity,
            email=email or identity.email,
            display_name=name or identity.display_name,
        )
        self._profiles[identity.external_id] = (now + self.profile_ttl, known)
        if len(self._profiles) > 10_000:
            self._profiles.pop(next(iter(self._profiles)))
        return known

    # -- outbound -------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Post, update, publish or show one reply; `DeliveryError` says how to retry."""
        if self._sender is None:
            raise ChannelError("the Slack channel is not started", platform=PLATFORM)
        return await self._sender.send(address, reply)

    async def find_delivery(self, address: Address, reply: Reply) -> Delivery | None:
        """Whether a send that was interrupted reached Slack (by its delivery key).

        None when it did not (or left nothing to find); raises when Slack cannot be asked.
        """
        if self._sender is None:
            raise ChannelError("the Slack channel is not started", platform=PLATFORM)
        return await self._sender.find(address, reply)
