"""SMS and WhatsApp through the whole pipeline: signed webhook in, Twilio REST out."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings, TwilioSettings
from bot.container import Overrides
from nlu.types import Understander
from tests.e2e.test_telegram_webhook import bind, count, metric, settle
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

PUBLIC = "https://switchboard.example.com"
ALICE = "+14155550101"  # the demo directory's phone identity
FRANK = "+14155550199"
STRANGER = "+14155550123"
OTHER = "+447700900123"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def fake(server: FakeTwilioApi) -> FakeTwilioApi:
    server.reset()
    return server


def with_twilio(settings: Settings, fake: FakeTwilioApi) -> Settings:
    twilio = TwilioSettings(
        _env_file=None,  # type: ignore[call-arg]
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        whatsapp_from=WHATSAPP_FROM,
        api_url=fake.base_url,
    )
    return settings.model_copy(update={"twilio": twilio, "public_url": PUBLIC})


def post(client: TestClient, body: bytes, *, signature: str | None = "sign") -> httpx.Response:
    """POST as Twilio would: signed over PUBLIC_URL, though the app is reached directly."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        headers["X-Twilio-Signature"] = sign(f"{PUBLIC}/twilio/messages", body)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post("/twilio/messages", content=body, headers=headers)


def texts_to(fake: FakeTwilioApi, number: str, count_: int, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bodies = fake.bodies_to(number)
        if len(bodies) >= count_:
            return bodies
        time.sleep(0.02)
    raise AssertionError(f"expected {count_} text(s) to {number}: {fake.sent()}")


@pytest.fixture
def app_settings(any_settings: Settings, fake: FakeTwilioApi) -> Settings:
    return with_twilio(any_settings, fake)


def test_text_makes_one_ticket_and_a_reply_to_the_sender(
    app_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    app = create_app(app_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        accepted = metric(client, "sms", "accepted")
        duplicates = metric(client, "sms", "duplicate")
        body = sms("my laptop screen is flickering and I cannot work", STRANGER, message_sid(1))
        res = post(client, body)
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("application/xml")
        assert res.text.count("<Message") == 0
        [reply] = texts_to(fake, STRANGER, 1)
        assert "INC-1" in reply
        [sent] = fake.sent()
        assert sent["From"] == FROM_NUMBER
        assert sent["StatusCallback"] == f"{PUBLIC}/twilio/status"

        assert post(client, body).status_code == 200
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(lambda _: post(client, body).status_code, range(8)))
        assert codes == [200] * 8
        settle(client, app_settings, "sms")
        assert count(client, app_settings, "select count(*) from tickets") == 1
        assert len(fake.sent()) == 1
        assert metric(client, "sms", "accepted") == accepted + 1
        assert metric(client, "sms", "duplicate") == duplicates + 9

        # Twilio reports the delivery; it lands on the reply's outbox row.
        [sid] = fake.created
        report = form(
            "status_callback_delivered", SmsSid=sid, MessageSid=sid, To=STRANGER, From=FROM_NUMBER
        )
        res = client.post(
            "/twilio/status",
            content=report,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(f"{PUBLIC}/twilio/status", report),
            },
        )
        assert res.status_code == 204
        delivered = count(
            client, app_settings, "select count(*) from outbox where delivery_status='delivered'"
        )
        assert delivered == 1


def test_forged_texts_are_refused_without_a_trace(
    app_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    app = create_app(app_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        rejected = metric(client, "sms", "rejected") + metric(client, "whatsapp", "rejected")
        body = sms("reset the CEO's password", STRANGER, message_sid(2))
        good = sign(f"{PUBLIC}/twilio/messages", body)
        forgeries: list[tuple[bytes, str | None]] = [
            (body, None),
            (body, ""),
            (body, sign(f"{PUBLIC}/twilio/messages", body, token="wrong-token")),
            (body, sign("https://evil.example.com/twilio/messages", body)),
            (body, sign(f"{PUBLIC.replace('https', 'http')}/twilio/messages", body)),
            (body, sign(f"{PUBLIC}/twilio/status", body)),
            (body.replace(b"password", b"passw0rd"), good),
            (body + b"&Extra=1", good),
            (whatsapp("hi", STRANGER, message_sid(3)), good),
            (body, good[:-2] + ("A=" if good[-2] != "A" else "B=")),
        ]
        # Every single-bit change of the signature.
        raw_sig = base64.b64decode(good)
        for bit in range(len(raw_sig) * 8):
            flipped = bytearray(raw_sig)
            flipped[bit // 8] ^= 1 << (bit % 8)
            forgeries.append((body, base64.b64encode(bytes(flipped)).decode()))
        # The right signature on every other recorded message shape.
        forgeries += [
            (form(name), good)
            for name in ("sms_incoming_botbuilder", "whatsapp_incoming", "whatsapp_incoming_button")
        ]
        # Signed for somewhere else: another host, scheme, port, path or query.
        elsewhere = [
            f"{scheme}://{host}{port}{path}{query}"
            for scheme in ("http", "https")
            for host in ("switchboard.example.com", "evil.example.com", "127.0.0.1")
            for port in ("", ":8443")
            for path in ("/twilio/messages", "/twilio/messages/", "/twilio/status")
            for query in ("", "?a=1")
        ]
        forgeries += [
            (body, sign(url, body)) for url in elsewhere if url != f"{PUBLIC}/twilio/messages"
        ]
        assert len(forgeries) >= 200
        for forged, signature in forgeries:
            assert post(client, forged, signature=signature).status_code == 401
        # A genuine text after the forgeries: once its reply has gone, anything a forgery had
        # slipped into the pipeline ahead of it would have been handled too.
        genuine = sms("my laptop screen is flickering", STRANGER, message_sid(4))
        assert post(client, genuine).status_code == 200
        [reply] = texts_to(fake, STRANGER, 1)
        settle(client, app_settings, "sms")
        assert "password" not in reply
        assert count(client, app_settings, "select count(*) from inbox") == 1
        assert count(client, app_settings, "select count(*) from outbox") == 1
        assert len(fake.sent()) == 1
        after = metric(client, "sms", "rejected") + metric(client, "whatsapp", "rejected")
        assert after == rejected + len(forgeries)
        assert post(client, b"Body=hi", signature="sign").status_code == 400


def test_rate_limit_is_waited_out_and_the_reply_sent_once(
    demo_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    settings = with_twilio(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        fake.add_response(fake.messages_path, **too_many_requests(retry_after=1))
        post(client, sms("the printer on floor 2 is broken", STRANGER, message_sid(4)))
        fake.wait_for(fake.messages_path, 2, timeout=15)
        settle(client, settings, "sms")
        calls = fake.calls_to(fake.messages_path)
        assert len(calls) == 2
        assert calls[1].at - calls[0].at >= 1.0  # not before Retry-After
        assert count(client, settings, "select count(*) from outbox where status='sent'") == 1


def test_change_approved_by_text_reply(
    app_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    app = create_app(app_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        client.portal.call(bind, app_settings, "frank@example.com", "phone", FRANK)  # type: ignore[union-attr]
        post(client, sms("hello", FRANK, message_sid(10)))
        texts_to(fake, FRANK, 1)
        # Alice is in the directory by her phone number: she texts in a change.
        post(client, sms("restart the mail server on Saturday 22:00", ALICE, message_sid(11)))
        [raised] = texts_to(fake, ALICE, 1)
        assert "CHG-1" in raised
        _, ask = texts_to(fake, FRANK, 2)
        assert "Reply 1 to approve CHG-1" in ask
        assert "Reply 2 to reject CHG-1" in ask
        post(client, sms("1", FRANK, message_sid(12)))
        _, _, done = texts_to(fake, FRANK, 3)
        assert "You approved CHG-1" in done
        _, told = texts_to(fake, ALICE, 2)
        assert "CHG-1 was approved by Frank Approver" in told
        settle(client, app_settings, "sms")
        approved = count(
            client,
            app_settings,
            "select count(*) from tickets where ref='CHG-1' and status='approved'",
        )
        assert approved == 1


def test_customers_see_only_their_own_tickets(
    demo_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    settings = with_twilio(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        # An outage report: filed at once, never held for a knowledge article.
        post(
            client, sms("the checkout page shows a 500 error when I pay", STRANGER, message_sid(20))
        )
        [made] = texts_to(fake, STRANGER, 1)
        assert "INC-1" in made
        post(client, sms("what's the status of INC-1", OTHER, message_sid(21)))
        post(client, sms("what's the status of INC-999", OTHER, message_sid(22)))
        theirs, missing = texts_to(fake, OTHER, 2)
        assert theirs == missing.replace("INC-999", "INC-1")
        assert "couldn't find INC-1" in theirs
        assert "checkout" not in theirs.lower()
        post(client, sms("what's the status of INC-1", STRANGER, message_sid(23)))
        _, mine = texts_to(fake, STRANGER, 2)
        assert "INC-1 is" in mine


def test_whatsapp_conversation_and_stop(
    demo_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    settings = with_twilio(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        accepted = metric(client, "whatsapp", "accepted")
        post(
            client,
            whatsapp(
                "email is not working for me, outlook keeps crashing", STRANGER, message_sid(30)
            ),
        )
        [reply] = texts_to(fake, STRANGER, 1)
        assert "INC-1" in reply
        assert fake.sent()[0]["To"] == f"whatsapp:{STRANGER}"
        assert fake.sent()[0]["From"] == WHATSAPP_FROM
        assert metric(client, "whatsapp", "accepted") == accepted + 1
        stop = post(client, whatsapp("STOP", STRANGER, message_sid(31)))
        assert "START" in stop.text
        # Still heard, never messaged: the reply is refused for good, not retried.
        post(client, whatsapp("any news on INC-1?", STRANGER, message_sid(32)))
        settle(client, settings, "whatsapp")
        assert len(fake.sent()) == 1
        dead = count(client, settings, "select count(*) from outbox where status='dead'")
        assert dead == 1
        help_ = post(client, sms("HELP", STRANGER, message_sid(33)))
        assert "STOP" in help_.text


def test_nul_characters_are_dropped_before_the_inbox(
    app_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    """PostgreSQL's JSON refuses NUL: a text holding one is handled like any other."""
    app = create_app(app_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        body = sms("my laptop\x00 screen is flickering", STRANGER, message_sid(31))
        assert post(client, body).status_code == 200
        [reply] = texts_to(fake, STRANGER, 1)
        assert "INC-1" in reply
        settle(client, app_settings, "sms")
        assert count(client, app_settings, "select count(*) from inbox where status = 'done'") == 1
        assert count(client, app_settings, "select count(*) from tickets") == 1
