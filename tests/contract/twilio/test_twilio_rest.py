"""The Twilio channel's real SDK client against a fake REST API, and its webhook routes."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.config import Settings
from channels.base import (
    DeliveryError,
    IngestOutcome,
    MemoryPlatformState,
    PayloadError,
    SignatureError,
)
from channels.conversation import Action, Address, Button, Event, Message, Reply
from channels.twilio.channel import SmsChannel
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    WHATSAPP_FROM,
    FakeTwilioApi,
    form,
    message_sid,
    sign,
    sms,
    too_many_requests,
    whatsapp,
)

CUSTOMER = "+14155550123"
TO_SMS = Address(channel="sms", conversation=CUSTOMER, user=CUSTOMER)
TO_WA = Address(channel="whatsapp", conversation=CUSTOMER, user=CUSTOMER)
PUBLIC = "https://sb.example.com"


class Cursors:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def cursors() -> Cursors:
    return Cursors()


def make(fake_url: str, cursors: Cursors, **kw: object) -> SmsChannel:
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": FROM_NUMBER,
        "whatsapp_from": WHATSAPP_FROM,
        "api_url": fake_url,
        "public_url": PUBLIC,
        "cursors": cursors,
        "request_timeout": 2.0,
    }
    values.update(kw)
    return SmsChannel(**values)  # type: ignore[arg-type]


@pytest.fixture
async def channel(fake: FakeTwilioApi, cursors: Cursors) -> AsyncIterator[SmsChannel]:
    ch = make(fake.base_url, cursors)
    await ch.start()
    try:
        yield ch
    finally:
        await ch.aclose()


# -- sending ---------------------------------------------------------------------------------


async def test_sms_goes_through_the_rest_api(channel: SmsChannel, fake: FakeTwilioApi) -> None:
    delivery = await channel.send(TO_SMS, Reply(text="Your ticket is INC-4 · *P2*"))
    [sent] = fake.sent()
    assert sent["To"] == CUSTOMER
    assert sent["From"] == FROM_NUMBER
    assert sent["Body"] == "Your ticket is INC-4 - *P2*"
    assert sent["StatusCallback"] == f"{PUBLIC}/twilio/status"
    assert delivery.external_id == message_sid(1)


async def test_whatsapp_inside_the_window_is_free_text(
    channel: SmsChannel, fake: FakeTwilioApi, cursors: Cursors
) -> None:
    cursors.values[f"twilio.window:whatsapp:{CUSTOMER}"] = datetime.now(UTC).isoformat()
    await channel.send(TO_WA, Reply(text="• On it"))
    [sent] = fake.sent()
    assert sent["To"] == f"whatsapp:{CUSTOMER}"
    assert sent["From"] == WHATSAPP_FROM
    assert sent["Body"] == "• On it"


async def test_whatsapp_outside_the_window_sends_the_template(
    fake: FakeTwilioApi, cursors: Cursors
) -> None:
    old = datetime.now(UTC) - timedelta(hours=25)
    cursors.values[f"twilio.window:whatsapp:{CUSTOMER}"] = old.isoformat()
    ch = make(fake.base_url, cursors, whatsapp_template_sid="HX" + "a" * 32)
    await ch.start()
    try:
        await ch.send(TO_WA, Reply(text="CHG-3 was approved"))
    finally:
        await ch.aclose()
    [sent] = fake.sent()
    assert "Body" not in sent
    assert sent["ContentSid"] == "HX" + "a" * 32
    assert json.loads(sent["ContentVariables"]) == {"1": "CHG-3 was approved"}


async def test_whatsapp_outside_the_window_without_template_is_refused_for_good(
    channel: SmsChannel, fake: FakeTwilioApi
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await channel.send(TO_WA, Reply(text="late news"))
    assert caught.value.permanent
    assert "24-hour" in str(caught.value)
    assert fake.sent() == []


async def test_twilio_window_error_falls_back_to_the_template(
    fake: FakeTwilioApi, cursors: Cursors
) -> None:
    cursors.values[f"twilio.window:whatsapp:{CUSTOMER}"] = datetime.now(UTC).isoformat()
    fake.add_response(
        fake.messages_path,
        status=400,
        json={"code": 63016, "message": "outside the allowed window", "status": 400},
    )
    ch = make(fake.base_url, cursors, whatsapp_template_sid="HX" + "b" * 32)
    await ch.start()
    try:
        await ch.send(TO_WA, Reply(text="CHG-3 was approved"))
    finally:
        await ch.aclose()
    first, second = fake.sent()
    assert first["Body"] == "CHG-3 was approved"
    assert second["ContentSid"] == "HX" + "b" * 32


async def test_rate_limit_gives_the_advertised_wait(
    channel: SmsChannel, fake: FakeTwilioApi
) -> None:
    fake.add_response(fake.messages_path, **too_many_requests(retry_after=2))
    with pytest.raises(DeliveryError) as caught:
        await channel.send(TO_SMS, Reply(text="hi"))
    assert caught.value.retry_after == 2
    assert not caught.value.permanent
    fake.add_response(fake.messages_path, **too_many_requests())
    with pytest.raises(DeliveryError) as caught:
        await channel.send(TO_SMS, Reply(text="hi"))
    assert caught.value.retry_after == 5


async def test_unsubscribed_number_is_permanent_and_remembered(
    channel: SmsChannel, fake: FakeTwilioApi
) -> None:
    fake.add_response(
        fake.messages_path,
        status=400,
        json={"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400},
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(TO_SMS, Reply(text="hi"))
    assert caught.value.permanent
    with pytest.raises(DeliveryError, match="opted out"):
        await channel.send(TO_SMS, Reply(text="again"))
    assert len(fake.sent()) == 1


async def test_wrong_credentials_are_retried_not_dropped(
    fake: FakeTwilioApi, cursors: Cursors
) -> None:
    ch = make(fake.base_url, cursors, auth_token="not-the-token")
    await ch.start()
    try:
        with pytest.raises(DeliveryError) as caught:
            await ch.send(TO_SMS, Reply(text="hi"))
    finally:
        await ch.aclose()
    assert not caught.value.permanent
    assert not caught.value.ambiguous


async def test_unreachable_api_is_retried(cursors: Cursors) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ch = make(f"http://127.0.0.1:{port}", cursors)
    await ch.start()
    try:
        with pytest.raises(DeliveryError) as caught:
            await ch.send(TO_SMS, Reply(text="hi"))
    finally:
        await ch.aclose()
    assert not caught.value.ambiguous
    assert not caught.value.permanent


async def test_timeout_after_sending_is_ambiguous(fake: FakeTwilioApi, cursors: Cursors) -> None:
    fake.add_response(fake.messages_path, status=201, json={"sid": message_sid(9)}, delay=1.5)
    ch = make(fake.base_url, cursors, request_timeout=0.5)
    await ch.start()
    try:
        with pytest.raises(DeliveryError) as caught:
            await ch.send(TO_SMS, Reply(text="hi"))
    finally:
        await ch.aclose()
    assert caught.value.ambiguous


# -- webhook routes --------------------------------------------------------------------------


def _app(channel: SmsChannel, ingest) -> Starlette:  # type: ignore[no-untyped-def]
    async def forged(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=401)

    async def malformed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    return Starlette(
        routes=list(channel.routes(ingest)),
        exception_handlers={SignatureError: forged, PayloadError: malformed},
    )


async def _post(app: Starlette, path: str, body: bytes, *, signed: bool = True) -> httpx.Response:
    url = f"{PUBLIC}{path}"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signed:
        headers["x-twilio-signature"] = sign(url, body)
    transport = httpx.ASGITransport(app=app)
    # The app sits behind a proxy: it sees http://internal:8000, Twilio signed PUBLIC_URL.
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as client:
        return await client.post(path, content=body, headers=headers)


async def test_inbound_sms_is_ingested_with_empty_twiml(channel: SmsChannel) -> None:
    got: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        got.append(event)
        return IngestOutcome.ACCEPTED

    app = _app(channel, ingest)
    res = await _post(app, "/twilio/messages", sms("printer jammed", CUSTOMER, message_sid(1)))
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("application/xml")
    assert "<Response" in res.text
    assert "<Message" not in res.text
    [event] = got
    assert isinstance(event, Message)
    assert event.text == "printer jammed"
    forged = await _post(app, "/twilio/messages", sms("x", CUSTOMER, message_sid(2)), signed=False)
    assert forged.status_code == 401
    assert len(got) == 1


async def test_stop_help_start(channel: SmsChannel, fake: FakeTwilioApi, cursors: Cursors) -> None:
    got: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        got.append(event)
        return IngestOutcome.ACCEPTED

    app = _app(channel, ingest)
    help_ = await _post(app, "/twilio/messages", sms("help", CUSTOMER, message_sid(1)))
    assert "<Message>" in help_.text
    assert "STOP" in help_.text
    stop = await _post(app, "/twilio/messages", sms("STOP", CUSTOMER, message_sid(2)))
    assert stop.status_code == 200
    with pytest.raises(DeliveryError, match="opted out") as caught:
        await channel.send(TO_SMS, Reply(text="hi"))
    assert caught.value.permanent
    assert fake.sent() == []
    await _post(app, "/twilio/messages", sms("Yes", CUSTOMER, message_sid(3)))
    await channel.send(TO_SMS, Reply(text="welcome back"))
    assert len(fake.sent()) == 1
    assert got == []  # keywords never reach the bot
    wa_stop = await _post(app, "/twilio/messages", whatsapp("stop", CUSTOMER, message_sid(4)))
    assert "START" in wa_stop.text  # no carrier confirms on WhatsApp: we do


async def test_typed_number_picks_the_last_choices_sent(
    channel: SmsChannel, fake: FakeTwilioApi
) -> None:
    got: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        got.append(event)
        return IngestOutcome.ACCEPTED

    app = _app(channel, ingest)
    ask = Reply(
        text="Frank, Alice requests CHG-7. Approve or reject?",
        buttons=(
            Button(label="Approve", action="approve", value="CHG-7"),
            Button(label="Reject", action="reject", value="CHG-7"),
        ),
    )
    await channel.send(TO_SMS, ask)
    assert "Reply 1 to approve CHG-7" in fake.sent()[-1]["Body"]
    await _post(app, "/twilio/messages", sms("1", CUSTOMER, message_sid(10)))
    [picked] = got
    assert isinstance(picked, Action)
    assert (picked.name, picked.value, picked.event_id) == ("approve", "CHG-7", message_sid(10))
    await channel.send(TO_SMS, Reply(text="You approved CHG-7."))
    await _post(app, "/twilio/messages", sms("1", CUSTOMER, message_sid(11)))
    assert isinstance(got[-1], Message)  # a later message without choices ended them


async def test_status_callback_records_delivery_and_opt_out(fake: FakeTwilioApi) -> None:
    reports: list[tuple[str, str, str]] = []
    state = MemoryPlatformState()

    async def record(platform: str, sid: str, status: str) -> None:
        reports.append((platform, sid, status))

    ch = make(fake.base_url, Cursors(), delivery_status=record, platform_state=state)
    await ch.start()

    async def ingest(event: Event) -> IngestOutcome:
        raise AssertionError("status callbacks are not events")

    app = _app(ch, ingest)
    ok = await _post(app, "/twilio/status", form("status_callback_delivered"))
    failed = await _post(app, "/twilio/status", form("status_callback_failed_unsubscribed"))
    forged = await _post(app, "/twilio/status", form("status_callback_delivered"), signed=False)
    await ch.aclose()
    assert (ok.status_code, failed.status_code, forged.status_code) == (204, 204, 401)
    assert reports == [
        ("sms", "SM0b6e2697aae04182a9f5b5c7a8994c7f", "delivered"),
        ("sms", "SM0b6e2697aae04182a9f5b5c7a8994c7f", "failed"),
    ]
    stored = await state.get("optout", "sms", "+14155550123")
    assert stored is not None
    assert stored.value == "1"


def test_the_app_needs_a_sender(settings: Settings) -> None:
    from bot.app import create_app
    from bot.config import TwilioSettings
    from channels.base import ConfigurationError

    twilio = TwilioSettings(_env_file=None, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="TWILIO_FROM_NUMBER"):
        create_app(settings.model_copy(update={"twilio": twilio}))
    with_number = twilio.model_copy(update={"from_number": "+1 415 555 0100"})
    assert create_app(settings.model_copy(update={"twilio": with_number})) is not None


async def test_debug_records_carry_no_auth_token_and_no_full_number(
    fake: FakeTwilioApi,
    cursors: Cursors,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The SDK's records and ours are clean, before any formatter of ours sees them."""
    import base64
    import logging

    caplog.set_level(logging.DEBUG)
    for name in ("twilio.http_client", "twilio.async_http_client", "aiohttp.client"):
        caplog.set_level(logging.DEBUG, logger=name)
    uk = "+442079460958"
    to_uk = Address(channel="sms", conversation=uk, user=uk)
    ch = make(fake.base_url, cursors)
    await ch.start()
    try:
        await ch.send(to_uk, Reply(text=f"We'll call you back on {uk}"))
        fake.add_response(
            fake.messages_path,
            status=400,
            json={"code": 21211, "message": f"The 'To' number {uk} is not valid", "status": 400},
        )
        with pytest.raises(DeliveryError) as refused:
            await ch.send(to_uk, Reply(text="again"))

        async def ingest(event: Event) -> IngestOutcome:
            return IngestOutcome.ACCEPTED

        stop = await _post(_app(ch, ingest), "/twilio/messages", sms("STOP", uk, message_sid(9)))
        assert stop.status_code == 200
    finally:
        await ch.aclose()
    records = "\n".join(r.getMessage() for r in caplog.records)
    everything = records + caplog.text + capfd.readouterr().out + str(refused.value)
    # Positive signals first: the SDK's request was logged, and so was the keyword.
    assert "twilio.request method=POST resource=Messages.json" in records
    assert "twilio.keyword" in everything
    assert "+44******0958" in everything
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    for secret in (AUTH_TOKEN, basic, uk, uk[1:], "7946 0958", "2079460958", "%2B44"):
        assert secret not in everything
