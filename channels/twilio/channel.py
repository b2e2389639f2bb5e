"""`SmsChannel`: Twilio's signed webhook in, the REST API out, for SMS and WhatsApp alike."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from channels.base import (
    ConfigurationError,
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    MemoryPlatformState,
    PlatformStateStore,
    Reject,
)
from channels.conversation import Action, Address, Message, Reply
from channels.phones import mask, to_e164
from channels.sdk_logs import TWILIO_LOGGERS, protect
from channels.twilio.constants import MESSAGES_PATH, NAME, STATUS_PATH
from channels.twilio.parse import parse, parse_status
from channels.twilio.render import match_choice, render, twiml
from channels.twilio.rules import (
    HELP_TEXT,
    STARTED_TEXT,
    STOPPED_TEXT,
    PlatformState,
    keyword,
)
from channels.twilio.send import (
    OUTSIDE_WINDOW,
    UNSUBSCRIBED,
    TwilioHttp,
    create_message,
    delivery_error,
)
from channels.twilio.verify import Form, signed_url, verify

log = structlog.get_logger(__name__)

DeliveryStatus = Callable[[str, str, str], Awaitable[None]]
"""Records a delivery report: `(platform, MessageSid, MessageStatus)`."""


class SmsChannel:
    """Twilio Programmable Messaging for SMS and WhatsApp.

    Args:
        account_sid: `TWILIO_ACCOUNT_SID`.
        auth_token: `TWILIO_AUTH_TOKEN`; signs webhooks and authenticates REST calls.
        from_number: the SMS sender (E.164), or None with `messaging_service_sid`.
        whatsapp_from: the WhatsApp sender (`whatsapp:+E164` or `+E164`).
        messaging_service_sid: a Messaging Service to send SMS from instead of a number.
        whatsapp_template_sid: a Content template (`HX…`) with one variable, `{{1}}`, sent
            outside the 24-hour window.
        api_url: the REST base URL (`https://api.twilio.com`, or a fake in tests).
        public_url: `PUBLIC_URL`: the signed URL's base behind a proxy, and where status
            callbacks are sent.
        platform_state: where opt-outs, the WhatsApp window and the last choices sent are
            kept (in memory when not given).
        cursors: where older releases kept those, read once per number not yet in
            `platform_state`.
        delivery_status: records Twilio's delivery reports `(platform, sid, status)`.
        on_drop: counts inbound requests answered without an event `(platform, reason)`.
    """

    name: ClassVar[str] = NAME
    platforms: ClassVar[tuple[str, ...]] = ("sms", "whatsapp")

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        whatsapp_from: str | None = None,
        messaging_service_sid: str | None = None,
        whatsapp_template_sid: str | None = None,
        api_url: str = "https://api.twilio.com",
        public_url: str | None = None,
        cursors: Cursors | None = None,
        platform_state: PlatformStateStore | None = None,
        delivery_status: DeliveryStatus | None = None,
        on_drop: Reject | None = None,
        request_timeout: float = 15.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ConfigurationError(
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are both needed", platform=NAME
            )
        sms_from = to_e164(from_number) if from_number else None
        if from_number and sms_from is None:
            raise ConfigurationError(
                "TWILIO_FROM_NUMBER must be a dialable E.164 number, like +14155550123",
                platform=NAME,
            )
        wa_from = None
        if whatsapp_from:
            wa_number = to_e164(whatsapp_from.removeprefix("whatsapp:"))
            if wa_number is None:
                raise ConfigurationError(
                    "TWILIO_WHATSAPP_FROM must be a dialable E.164 number, like +14155238886",
                    platform=NAME,
                )
            wa_from = f"whatsapp:{wa_number}"
        if not (sms_from or messaging_service_sid or wa_from):
            raise ConfigurationError(
                "set TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID) for SMS and/or "
                "TWILIO_WHATSAPP_FROM for WhatsApp",
                platform=NAME,
            )
        basic = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        protect(TWILIO_LOGGERS, auth_token, basic)
        self._sid = account_sid
        self._token = auth_token
        self.from_number = sms_from
        self.whatsapp_from = wa_from
        self.messaging_service_sid = messaging_service_sid or None
        self.whatsapp_template_sid = whatsapp_template_sid or None
        self.api_url = api_url.rstrip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self._state = PlatformState(platform_state or MemoryPlatformState(), cursors)
        self._delivery_status = delivery_status
        self._on_drop = on_drop
        self.request_timeout = request_timeout
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None

    def __repr__(self) -> str:
        return f"SmsChannel(api_url={self.api_url!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the REST client (its aiohttp session needs the running loop)."""
        # Its request log is one line naming the resource: no account, number or text.
        self._http = TwilioHttp(
            timeout=self.request_timeout, logger=logging.getLogger("twilio.http_client")
        )
        # A non-empty environment: the client must not pick up TWILIO_EDGE/REGION by itself.
        self._client = Client(
            self._sid,
            self._token,
            account_sid=self._sid,
            http_client=self._http,
            environment={"TWILIO_ACCOUNT_SID": self._sid},
        )
        self._client.api.base_url = self.api_url

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None

    # -- inbound --------------------------------------------------------------------------

    def verify(self, raw: bytes, headers: Mapping[str, str], request_url: str) -> Form:
        """Check Twilio's signature over the URL called and the form; the form if it holds."""
        return verify(raw, headers, signed_url(request_url, self.public_url), self._token)

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """The webhook route for SMS and WhatsApp, handing each message to `ingest`."""

        async def messages(request: Request) -> Response:
            form = self.verify(await request.body(), request.headers, str(request.url))
            event = parse(form)
            return await self._receive(event, ingest)

        async def status(request: Request) -> Response:
            form = self.verify(await request.body(), request.headers, str(request.url))
            await self._status(form)
            return Response(status_code=204)

        return [
            Route(MESSAGES_PATH, messages, methods=["POST"], name="twilio-messages"),
            Route(STATUS_PATH, status, methods=["POST"], name="twilio-status"),
        ]

    async def _receive(self, event: Message | Action, ingest: Ingest) -> Response:
        channel, number = event.address.channel, event.address.user
        if channel == "whatsapp":
            # Before the inbox write: a reply can be on its way as soon as that commits.
            await self._state.customer_wrote(number)
        if isinstance(event, Message):
            word = keyword(event.text, channel)
            # "YES" means START only from someone who stopped; ask the store only then.
            maybe_start = word is None and keyword(event.text, channel, opted_out=True)
            if maybe_start and await self._state.opted_out(channel, number):
                word = "start"
            if word is not None:
                return await self._keyword(word, channel, number)
            picked = await self._picked(channel, number, event)
            if picked is not None:
                event = picked
        await ingest(event)
        return twiml()

    async def _keyword(self, word: str, channel: str, number: str) -> Response:
        log.info("twilio.keyword", platform=channel, keyword=word, number=mask(number))
        if self._on_drop is not None:
            self._on_drop(channel, f"keyword_{word}")
        if word == "help":
            return twiml(HELP_TEXT)
        await self._state.set_opted_out(channel, number, word == "stop")
        # On SMS Twilio confirms STOP and START itself; WhatsApp has nobody else to do it.
        if channel == "whatsapp":
            return twiml(STOPPED_TEXT if word == "stop" else STARTED_TEXT)
        return twiml()

    async def _picked(self, channel: str, number: str, msg: Message) -> Action | None:
        """A typed number or keyword that answers the last choices we sent, as a click."""
        text = msg.text.strip()
        if not text or len(text) > 40:
            return None
        choice = match_choice(text, await self._state.choices(channel, number))
        if choice is None:
            return None
        return Action(
            event_id=msg.event_id,
            address=msg.address,
            sender=msg.sender,
            name=choice.action,
            value=choice.value,
            received_at=msg.received_at,
        )

    async def _status(self, form: Form) -> None:
        report = parse_status(form)
        if report.unsubscribed:
            await self._state.set_opted_out(report.platform, report.unsubscribed, True)
        log.info("twilio.status", platform=report.platform, sid=report.sid, status=report.status)
        if self._delivery_status is not None:
            await self._delivery_status(report.platform, report.sid, report.status)

    # -- outbound -------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Send one text (or, on WhatsApp outside the window, the approved template)."""
        if self._client is None:
            raise DeliveryError("the Twilio channel is not started", platform=address.channel)
        channel = address.channel
        number = to_e164(address.conversation, strict=False)
        if channel not in self.platforms or number is None:
            raise DeliveryError("not a phone address", platform=channel, permanent=True)
        if await self._state.opted_out(channel, number):
            raise DeliveryError(
                "the recipient opted out (STOP); nothing is sent until they text START",
                platform=channel,
                permanent=True,
            )
        rendered = render(reply, channel)
        params: dict[str, Any] = {}
        if channel == "whatsapp":
            if not self.whatsapp_from:
                raise DeliveryError(
                    "TWILIO_WHATSAPP_FROM is not set", platform=channel, permanent=True
                )
            params.update(to=f"whatsapp:{number}", from_=self.whatsapp_from)
            if await self._state.in_window(number):
                params["body"] = rendered.body
            elif self.whatsapp_template_sid:
                params.update(
                    content_sid=self.whatsapp_template_sid,
                    content_variables=json.dumps({"1": rendered.body[:1000]}),
                )
            else:
                raise DeliveryError(
                    "outside WhatsApp's 24-hour window and no TWILIO_WHATSAPP_TEMPLATE_SID "
                    "is configured: free text cannot be sent until the customer writes again",
                    platform=channel,
                    permanent=True,
                )
        else:
            params.update(to=number, body=rendered.body)
            if self.messaging_service_sid:
                params["messaging_service_sid"] = self.messaging_service_sid
            elif self.from_number:
                params["from_"] = self.from_number
            else:
                raise DeliveryError(
                    "TWILIO_FROM_NUMBER is not set", platform=channel, permanent=True
                )
        if self.public_url:
            params["status_callback"] = self.public_url + STATUS_PATH
        # Remembered before sending: the answer can arrive before `create` returns.
        previous = await self._state.remember_choices(channel, number, rendered.choices)
        try:
            message = await self._create(channel, number, params)
        except DeliveryError:
            if previous is not None:
                await self._state.restore_choices(channel, number, previous)
            raise
        log.info("twilio.sent", platform=channel, number=mask(number), sid=message.sid)
        return Delivery(external_id=message.sid)

    async def _create(self, channel: str, number: str, params: dict[str, Any]) -> Any:
        assert self._client is not None
        try:
            return await create_message(self._client, params, channel)
        except TwilioRestException as e:
            if e.code == UNSUBSCRIBED:
                await self._state.set_opted_out(channel, number, True)
            elif e.code == OUTSIDE_WINDOW and "body" in params and self.whatsapp_template_sid:
                # Our record of the window was wrong (or lost): the template still goes.
                body = str(params.pop("body"))
                params.update(
                    content_sid=self.whatsapp_template_sid,
                    content_variables=json.dumps({"1": body[:1000]}),
                )
                return await self._create(channel, number, params)
            raise delivery_error(e, channel) from None
