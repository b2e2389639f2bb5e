"""Twilio SMS and WhatsApp: one signed webhook in, replies through the REST API.

Both arrive at `POST /twilio/messages`; WhatsApp numbers carry a `whatsapp:` prefix, which
sets `Address.channel`. The sender is `Identity(platform="phone", external_id=<E.164>)` on
both, so the directory's phone numbers recognise people wherever they write from. The
webhook answers with empty TwiML as soon as the message is in the inbox; replies go out
through the outbox, and delivery reports come back to `POST /twilio/status`.

Text only: buttons become numbered choices ("Reply 1 to approve CHG-12") and the number a
person types back is turned into the same `Action` a click would have made, cards become
lines, Markdown is dropped, and an SMS is kept within `MAX_SEGMENTS` segments. STOP, START
and HELP are honoured here, before anything reaches the bot. WhatsApp allows free text
only within 24 hours of the customer's last message; later, an approved template is sent
when one is configured, and otherwise the reply is refused for good.
"""

from __future__ import annotations

import base64
import contextvars
import hmac
import json
import logging
import math
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlparse

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator, add_port, remove_port
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from channels.base import (
    ConfigurationError,
    Cursors,
    Delivery,
    DeliveryError,
    Ingest,
    MemoryCursors,
    PayloadError,
    Reject,
    SignatureError,
)
from channels.conversation import Action, Address, Identity, Message, Reply, e164

log = structlog.get_logger(__name__)

NAME = "twilio"
MESSAGES_PATH = "/twilio/messages"
STATUS_PATH = "/twilio/status"
SIGNATURE_HEADER = "x-twilio-signature"
MAX_SEGMENTS = 10
WHATSAPP_MAX_CHARS = 1600
MAX_BODY_CHARS = 4000
WINDOW = timedelta(hours=24)
# Leave room for the queue: a reply sent just inside the window may land just outside it.
WINDOW_MARGIN = timedelta(minutes=5)
CHOICES_TTL = timedelta(hours=24)
RATE_LIMIT_WAIT = 5.0
HELP_TEXT = (
    "Switchboard IT service desk: text us what's wrong or a ticket number like INC-42. "
    "Reply STOP to stop messages, START to resume. Msg&data rates may apply."
)
STOPPED_TEXT = "You won't get messages from the IT service desk any more. Reply START to resume."
STARTED_TEXT = "Welcome back: you'll get messages from the IT service desk again."

# Twilio's default opt-out handling on SMS reacts to these words; we follow it so our state
# matches what Twilio will let through. WhatsApp has no carrier keywords: only the plain ones.
_STOP = {
    "sms": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    ),
    "whatsapp": frozenset({"STOP", "UNSUBSCRIBE"}),
}
_START = {"sms": frozenset({"START", "UNSTOP"}), "whatsapp": frozenset({"START"})}
_START_WHEN_STOPPED = {"sms": frozenset({"YES"}), "whatsapp": frozenset()}
_HELP = frozenset({"HELP", "INFO"})

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_REF = re.compile(r"^(INC|REQ|PRB|CHG)-\d+$", re.IGNORECASE)
_MARKDOWN = re.compile(r"(\*\*|__|`)(.+?)\1", re.DOTALL)

# Errors the REST API answers with (https://www.twilio.com/docs/api/errors).
_TOO_MANY = 20429
_UNSUBSCRIBED = 21610
_OUTSIDE_WINDOW = 63016

# GSM 03.38: the basic set (one septet each) and the extension (escape + septet).
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
# Characters our replies use that have a plain GSM look-alike: one bullet would otherwise
# switch the whole message to UCS-2 and shrink every segment from 153 to 67 characters.
_GSM_LOOKALIKES = str.maketrans(
    {
        "·": "-",
        "•": "-",
        "…": "...",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "–": "-",
        "—": "-",
        "\u00a0": " ",
    }
)


# -- numbers ---------------------------------------------------------------------------------


def split_address(value: str) -> tuple[str, str]:
    """(`sms` | `whatsapp`, E.164 number) from a Twilio `From`/`To`.

    Raises:
        PayloadError: not a phone number we can answer.
    """
    channel = "sms"
    if value.startswith("whatsapp:"):
        channel, value = "whatsapp", value[len("whatsapp:") :]
    number = e164(value)
    if number is None:
        raise PayloadError("sender is not an E.164 phone number", platform=channel)
    return channel, number


def mask(number: str) -> str:
    """`+14155550123` as `+*******0123`, for logs."""
    digits = number.lstrip("+")
    return "+" + "*" * max(len(digits) - 4, 0) + digits[-4:]


# -- verify ----------------------------------------------------------------------------------


class Form:
    """URL-encoded parameters in order, repeated names kept (Twilio signs every value)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = list(pairs)

    @classmethod
    def parse(cls, raw: bytes) -> Form:
        text = raw.decode("utf-8", errors="replace")
        return cls(parse_qsl(text, keep_blank_values=True))

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self.pairs))

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def get(self, name: str, default: str = "") -> str:
        values = self.getlist(name)
        return values[-1] if values else default


def signed_url(request_url: str, public_url: str | None) -> str:
    """The URL Twilio called: behind a proxy, `PUBLIC_URL` plus our path and query."""
    if not public_url:
        return request_url
    parts = urlparse(request_url)
    return public_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def verify(raw: bytes, headers: Mapping[str, str], url: str, auth_token: str | None) -> Form:
    """Check `X-Twilio-Signature` over the exact URL and the POSTed parameters.

    Returns the parameters. The URL is tried with and without its default port, as Twilio's
    own validator does; the comparison is constant-time.

    Raises:
        SignatureError: no auth token configured, header missing or repeated, or mismatch.
    """
    # Only a label for the rejection count: nothing unverified is trusted beyond that.
    platform = "whatsapp" if b"From=whatsapp%3A" in raw else "sms"
    if not auth_token:
        raise SignatureError("TWILIO_AUTH_TOKEN is not configured", platform=platform)
    getlist = getattr(headers, "getlist", None)
    found = list(getlist(SIGNATURE_HEADER)) if getlist else [headers.get(SIGNATURE_HEADER)]
    values: list[str] = [str(v) for v in found if v is not None]
    if len(values) != 1 or not values[0]:
        raise SignatureError("missing or repeated X-Twilio-Signature", platform=platform)
    given = values[0].strip().encode()
    form = Form.parse(raw)
    validator = RequestValidator(auth_token)
    parsed = urlparse(url)
    for candidate in dict.fromkeys((remove_port(parsed), add_port(parsed))):
        expected = validator.compute_signature(candidate, form).encode()
        if hmac.compare_digest(expected, given):
            return form
    raise SignatureError("X-Twilio-Signature does not match", platform=platform)


# -- parse -----------------------------------------------------------------------------------


def parse(form: Form, *, received_at: datetime | None = None) -> Message | Action:
    """A text (or a WhatsApp quick-reply button) as an event.

    Raises:
        PayloadError: no `MessageSid`, or a sender that is not a phone number.
    """
    sid = form.get("MessageSid") or form.get("SmsMessageSid")
    channel, number = split_address(form.get("From"))
    if not _SID.match(sid):
        raise PayloadError("MessageSid missing or malformed", platform=channel)
    address = Address(channel=channel, conversation=number, user=number)
    profile = form.get("ProfileName").strip() or None
    sender = Identity(
        platform="phone",
        external_id=number,
        display_name=profile[:200] if profile else None,
        phone=number,
    )
    when = received_at or datetime.now(UTC)
    payload = form.get("ButtonPayload").strip()
    if payload:
        action, _, value = payload.partition(":")
        if _ACTION_NAME.match(action):
            return Action(
                event_id=sid,
                address=address,
                sender=sender,
                name=action,
                value=value[:200],
                received_at=when,
            )
    media = []
    try:
        count = min(int(form.get("NumMedia") or 0), 10)
    except ValueError:
        count = 0
    for i in range(count):
        url = form.get(f"MediaUrl{i}").strip()
        if url:
            media.append(url)
    return Message(
        event_id=sid,
        address=address,
        sender=sender,
        text=form.get("Body")[:MAX_BODY_CHARS],
        received_at=when,
        direct=True,
        attachments=tuple(media),
    )


def keyword(text: str, channel: str, *, opted_out: bool = False) -> str | None:
    """`stop`, `start` or `help` when the whole message is one of those words."""
    word = text.strip().strip(".!").upper()
    if word in _STOP.get(channel, frozenset()):
        return "stop"
    if word in _START.get(channel, frozenset()):
        return "start"
    if opted_out and word in _START_WHEN_STOPPED.get(channel, frozenset()):
        return "start"
    if word in _HELP:
        return "help"
    return None


def twiml(text: str | None = None) -> Response:
    """The webhook's answer: empty TwiML, or one message (HELP, STOP on WhatsApp)."""
    resp = MessagingResponse()
    if text:
        resp.message(text)
    return Response(str(resp), media_type="application/xml")


# -- render ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A numbered (or keyword) option of a text reply, and the click it stands for."""

    key: str
    action: str
    value: str


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    choices: tuple[Choice, ...] = ()


def strip_markdown(text: str) -> str:
    """`**bold**`, `__this__` and `` `code` `` as plain words."""
    return _MARKDOWN.sub(r"\2", text)


def is_gsm(text: str) -> bool:
    return all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text)


def _units(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in _GSM_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # UTF-16 code units


def segment_count(text: str) -> int:
    """SMS segments the text takes: 160/153 GSM-7 or 70/67 UCS-2 characters each."""
    gsm = is_gsm(text)
    units = sum(_units(c, gsm) for c in text)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if units <= single else math.ceil(units / multi)


def split_segments(text: str) -> list[str]:
    """The text cut where a concatenated SMS cuts it (153 GSM-7 / 67 UCS-2 units a part).

    Never splits an extension character or a surrogate pair across two parts.
    """
    gsm = is_gsm(text)
    if segment_count(text) == 1:
        return [text] if text else []
    size = 153 if gsm else 67
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        n = _units(ch, gsm)
        if used + n > size:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    if current:
        parts.append("".join(current))
    return parts


def fit_segments(text: str, max_segments: int = MAX_SEGMENTS) -> str:
    """The text, or its first `max_segments` segments ending at a word with "...".

    The cut lands on a segment boundary, so nothing is paid for a part-filled last segment.
    """
    parts = split_segments(text)
    if len(parts) <= max_segments:
        return text
    marker = "..." if is_gsm(text) else "…"
    kept = "".join(parts[:max_segments])
    room = kept[: len(kept) - len(marker) - 1]
    cut = room.rsplit(None, 1)[0] if " " in room or "\n" in room else room
    return cut.rstrip(" ,;:-\n") + marker


def _choice_line(key: str, label: str, value: str) -> str:
    what = label.lower()
    if _REF.match(value) and value.upper() not in label.upper():
        what = f"{what} {value.upper()}"
    return f"Reply {key} to {what}"


def render(reply: Reply, channel: str = "sms") -> Rendered:
    """A reply as one plain-text message: text, card lines, numbered choices."""
    parts = [strip_markdown(reply.text).strip()] if reply.text.strip() else []
    if reply.card is not None:
        parts.append("\n".join(reply.card.lines()))
    # An overview's sections read as lists; their per-ticket buttons would make a numbered
    # menu longer than the message, so the tickets are named and acted on by reference.
    parts.extend("\n".join(section.lines()) for section in reply.sections)
    choices: list[Choice] = []
    lines: list[str] = []
    for i, b in enumerate(reply.buttons, start=1):
        key = b.keyword or str(i)
        choices.append(Choice(key=key, action=b.action, value=b.value))
        lines.append(_choice_line(key, b.label, b.value))
    if lines:
        parts.append("\n".join(lines))
    body = "\n\n".join(parts)
    if channel == "sms":
        body = fit_segments(body.translate(_GSM_LOOKALIKES))
    elif len(body) > WHATSAPP_MAX_CHARS:
        body = body[: WHATSAPP_MAX_CHARS - 1].rsplit(None, 1)[0] + "…"
    return Rendered(body=body, choices=tuple(choices))


def match_choice(text: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice a typed reply picks ("1", "approve chg-12" as keyword), if any."""
    said = " ".join(text.strip().split()).casefold().rstrip(".!")
    if not said:
        return None
    return next((c for c in choices if c.key.casefold() == said), None)


# -- errors ----------------------------------------------------------------------------------

_last_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "twilio_last_headers", default=None
)


class _TwilioHttp(AsyncTwilioHttpClient):
    """Twilio's aiohttp client with three repairs.

    Its own timeout setting is never applied (requests could hang forever); it
    authenticates through aiohttp's deprecated `BasicAuth`; and `TwilioRestException`
    drops the response headers, among them a 429's `Retry-After`, kept here per task.
    """

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the SDK's signature)
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        headers = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        response = await super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=timeout if timeout is not None else self.timeout,
            allow_redirects=allow_redirects,
        )
        _last_headers.set({str(k).lower(): str(v) for k, v in (response.headers or {}).items()})
        return response


def _retry_after(headers: Mapping[str, str] | None) -> float:
    value = (headers or {}).get("retry-after", "")
    try:
        return max(float(value), 0.0) if value else RATE_LIMIT_WAIT
    except ValueError:
        return RATE_LIMIT_WAIT


def delivery_error(e: TwilioRestException, platform: str) -> DeliveryError:
    """How the outbox should treat a REST API error."""
    code = e.code or 0
    detail = f"Twilio {e.status} error {code}: {e.msg}"
    if e.status == 429 or code == _TOO_MANY:
        return DeliveryError(
            detail, platform=platform, retry_after=_retry_after(_last_headers.get())
        )
    if e.status >= 500:
        return DeliveryError(detail, platform=platform)
    if e.status in (401, 403):
        # Credentials: an operator can fix them, so keep the reply for a while.
        return DeliveryError(detail, platform=platform)
    # 21610 unsubscribed, 21211 invalid number, 21408 region not enabled, 63016 outside the
    # WhatsApp window...: the same request will fail the same way.
    return DeliveryError(detail, platform=platform, permanent=True)


def _never_sent(e: BaseException) -> bool:
    # aiohttp's ClientConnectorError (no connection made) is an OSError carrying `os_error`.
    return isinstance(e, OSError) and hasattr(e, "os_error")


# -- the channel -----------------------------------------------------------------------------


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
        cursors: durable small values: opt-outs, the WhatsApp window, the last choices sent.
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
        delivery_status: DeliveryStatus | None = None,
        on_drop: Reject | None = None,
        request_timeout: float = 15.0,
    ) -> None:
        if not account_sid or not auth_token:
            raise ConfigurationError(
                "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are both needed", platform=NAME
            )
        sms_from = e164(from_number) if from_number else None
        if from_number and sms_from is None:
            raise ConfigurationError("TWILIO_FROM_NUMBER must be an E.164 number", platform=NAME)
        wa_from = None
        if whatsapp_from:
            wa_number = e164(whatsapp_from.removeprefix("whatsapp:"))
            if wa_number is None:
                raise ConfigurationError(
                    "TWILIO_WHATSAPP_FROM must be an E.164 number", platform=NAME
                )
            wa_from = f"whatsapp:{wa_number}"
        if not (sms_from or messaging_service_sid or wa_from):
            raise ConfigurationError(
                "set TWILIO_FROM_NUMBER (or TWILIO_MESSAGING_SERVICE_SID) for SMS and/or "
                "TWILIO_WHATSAPP_FROM for WhatsApp",
                platform=NAME,
            )
        self._sid = account_sid
        self._token = auth_token
        self.from_number = sms_from
        self.whatsapp_from = wa_from
        self.messaging_service_sid = messaging_service_sid or None
        self.whatsapp_template_sid = whatsapp_template_sid or None
        self.api_url = api_url.rstrip("/")
        self.public_url = public_url.rstrip("/") if public_url else None
        self._cursors: Cursors = cursors or MemoryCursors()
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
        # bot.logging keeps this logger at WARNING: Twilio logs request URLs at INFO.
        self._http = _TwilioHttp(
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
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None

    # -- inbound --------------------------------------------------------------------------

    def verify(self, raw: bytes, headers: Mapping[str, str], request_url: str) -> Form:
        return verify(raw, headers, signed_url(request_url, self.public_url), self._token)

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
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
            await self._cursors.set(_key("window", channel, number), _now().isoformat())
        if isinstance(event, Message):
            word = keyword(event.text, channel)
            # "YES" means START only from someone who stopped; ask the store only then.
            maybe_start = word is None and keyword(event.text, channel, opted_out=True)
            if maybe_start and await self._opted_out(channel, number):
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
        await self._cursors.set(_key("optout", channel, number), "1" if word == "stop" else "")
        # On SMS Twilio confirms STOP and START itself; WhatsApp has nobody else to do it.
        if channel == "whatsapp":
            return twiml(STOPPED_TEXT if word == "stop" else STARTED_TEXT)
        return twiml()

    async def _picked(self, channel: str, number: str, msg: Message) -> Action | None:
        """A typed number or keyword that answers the last choices we sent, as a click."""
        text = msg.text.strip()
        if not text or len(text) > 40:
            return None
        stored = await self._cursors.get(_key("choices", channel, number))
        choices = _load_choices(stored)
        choice = match_choice(text, choices)
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
        sid = form.get("MessageSid") or form.get("SmsSid")
        state = form.get("MessageStatus") or form.get("SmsStatus")
        to = form.get("To")
        channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
        if not _SID.match(sid) or not state:
            raise PayloadError("status callback without MessageSid/MessageStatus", platform=channel)
        if form.get("ErrorCode") == str(_UNSUBSCRIBED):
            number = e164(to.removeprefix("whatsapp:"))
            if number:
                await self._cursors.set(_key("optout", channel, number), "1")
        log.info("twilio.status", platform=channel, sid=sid, status=state)
        if self._delivery_status is not None:
            await self._delivery_status(channel, sid, state[:32])

    # -- state ----------------------------------------------------------------------------

    async def _opted_out(self, channel: str, number: str) -> bool:
        return bool(await self._cursors.get(_key("optout", channel, number)))

    async def _in_window(self, number: str) -> bool:
        value = await self._cursors.get(_key("window", "whatsapp", number))
        if not value:
            return False
        try:
            last = datetime.fromisoformat(value)
        except ValueError:
            return False
        return _now() - last < WINDOW - WINDOW_MARGIN

    async def _remember_choices(
        self, channel: str, number: str, choices: Sequence[Choice]
    ) -> str | None:
        """Keep what the numbers of this message mean; returns what was kept before."""
        key = _key("choices", channel, number)
        previous = await self._cursors.get(key)
        if choices:
            data = {
                "at": _now().isoformat(),
                "choices": [[c.key, c.action, c.value] for c in choices],
            }
            await self._cursors.set(key, json.dumps(data))
        elif previous:
            # Numbers refer to the latest message only: a later one without choices ends them.
            await self._cursors.set(key, "")
        return previous

    # -- outbound -------------------------------------------------------------------------

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Send one text (or, on WhatsApp outside the window, the approved template)."""
        if self._client is None:
            raise DeliveryError("the Twilio channel is not started", platform=address.channel)
        channel = address.channel
        number = e164(address.conversation)
        if channel not in self.platforms or number is None:
            raise DeliveryError("not a phone address", platform=channel, permanent=True)
        if await self._opted_out(channel, number):
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
            if await self._in_window(number):
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
        previous = await self._remember_choices(channel, number, rendered.choices)
        try:
            message = await self._create(channel, number, params)
        except DeliveryError:
            if previous is not None:
                await self._cursors.set(_key("choices", channel, number), previous)
            raise
        log.info("twilio.sent", platform=channel, number=mask(number), sid=message.sid)
        return Delivery(external_id=message.sid)

    async def _create(self, channel: str, number: str, params: dict[str, Any]) -> Any:
        assert self._client is not None
        try:
            return await self._client.messages.create_async(**params)
        except TwilioRestException as e:
            if e.code == _UNSUBSCRIBED:
                await self._cursors.set(_key("optout", channel, number), "1")
            elif e.code == _OUTSIDE_WINDOW and "body" in params and self.whatsapp_template_sid:
                # Our record of the window was wrong (or lost): the template still goes.
                body = str(params.pop("body"))
                params.update(
                    content_sid=self.whatsapp_template_sid,
                    content_variables=json.dumps({"1": body[:1000]}),
                )
                return await self._create(channel, number, params)
            raise delivery_error(e, channel) from None
        except TimeoutError as e:
            raise DeliveryError(
                "timed out after sending: it may have been delivered",
                platform=channel,
                ambiguous=True,
            ) from e
        except Exception as e:
            if _never_sent(e):
                raise DeliveryError(
                    f"cannot reach Twilio: {type(e).__name__}", platform=channel
                ) from e
            raise DeliveryError(
                f"connection failed after sending ({type(e).__name__})",
                platform=channel,
                ambiguous=True,
            ) from e


def _key(kind: str, channel: str, number: str) -> str:
    return f"twilio.{kind}:{channel}:{number}"


def _now() -> datetime:
    return datetime.now(UTC)


def _load_choices(stored: str | None) -> list[Choice]:
    if not stored:
        return []
    try:
        data = json.loads(stored)
        at = datetime.fromisoformat(data["at"])
        if _now() - at > CHOICES_TTL:
            return []
        return [Choice(key=str(k), action=str(a), value=str(v)) for k, a, v in data["choices"]]
    except (ValueError, KeyError, TypeError):
        return []
