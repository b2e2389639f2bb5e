"""Messenger and Instagram through the whole pipeline: signed webhook in, Send API reply out.

The app runs with its lifespan (worker, dispatcher, scheduler); the channel's real httpx
client talks to `FakeMetaApi` over HTTP, and every webhook body is one of Meta's documented
examples with the sender, text, id and time replaced, signed with the app secret.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import MetaSettings, Settings
from bot.container import Overrides
from nlu.types import Understander
from tests.fakes.meta_api import (
    APP_SECRET,
    IGSID,
    INSTAGRAM_TEXT,
    MESSENGER_TEXT,
    PAGE_TOKEN,
    PSID,
    SEND_PATH,
    VERIFY_TOKEN,
    FakeMetaApi,
    body,
    now_ms,
    sign,
    signed_headers,
)

WAIT = 30.0
REPORT = "the VPN is down for our whole office, nobody can connect"
PRODUCTS = [("messenger", MESSENGER_TEXT, PSID), ("instagram", INSTAGRAM_TEXT, IGSID)]


@pytest.fixture
def fake(no_network: None) -> Iterator[FakeMetaApi]:
    with FakeMetaApi() as api:
        yield api  # type: ignore[misc]


def with_meta(settings: Settings, fake: FakeMetaApi, **options: object) -> Settings:
    meta = MetaSettings(
        _env_file=None,  # type: ignore[call-arg]
        app_secret=APP_SECRET,  # type: ignore[arg-type]
        verify_token=VERIFY_TOKEN,  # type: ignore[arg-type]
        page_token=PAGE_TOKEN,  # type: ignore[arg-type]
        api_url=fake.api_url,
        **options,  # type: ignore[arg-type]
    )
    return settings.model_copy(update={"meta": meta})


def app_for(settings: Settings, understander: Understander) -> TestClient:
    return TestClient(create_app(settings, overrides=Overrides(understander=understander)))


async def _state(settings: Settings) -> tuple[int, dict[str, int], list[tuple[str, str]]]:
    from store.db import create_engine, session_factory
    from store.models import OutboxMessage
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            rows = await uow.session.execute(
                select(OutboxMessage.status, OutboxMessage.error).order_by(OutboxMessage.id)
            )
            outbox = [(str(s), e or "") for s, e in rows]
            return await uow.tickets.count(), await uow.inbox.counts(), outbox
    finally:
        await engine.dispose()


def state(settings: Settings) -> tuple[int, dict[str, int], list[tuple[str, str]]]:
    """Tickets, inbox rows by status, and each outbox row's status and last error."""
    return asyncio.run(_state(settings))


def post(client: TestClient, raw: bytes) -> dict[str, int]:
    answer = client.post("/meta/webhook", content=raw, headers=signed_headers(raw))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(("product", "example", "person"), PRODUCTS, ids=["messenger", "instagram"])
def test_a_report_becomes_a_ticket_followed_in_the_same_thread(
    any_settings: Settings,
    understander: Understander,
    fake: FakeMetaApi,
    product: str,
    example: str,
    person: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = with_meta(any_settings, fake)
    report = body(
        example, text=REPORT, mid=f"m_{product}_report", sender=person, timestamp=now_ms()
    )
    with app_for(settings, understander) as client:
        first = post(client, report)
        retry = post(client, report)
        [created] = fake.wait_for(SEND_PATH, 1, timeout=WAIT)
        follow_up = body(
            example,
            text="what is the status of INC-1?",
            mid=f"m_{product}_status",
            sender=person,
            timestamp=now_ms(),
        )
        post(client, follow_up)
        status = fake.wait_for(SEND_PATH, 2, timeout=WAIT)[1]

    assert (first, retry) == ({"accepted": 1, "duplicate": 0}, {"accepted": 0, "duplicate": 1})
    sent = created.json()
    assert sent["recipient"] == {"id": person}
    assert sent["messaging_type"] == "RESPONSE"
    assert "INC-1" in sent["message"]["text"]
    assert created.headers["authorization"] == f"Bearer {PAGE_TOKEN}"
    assert status.json()["recipient"] == {"id": person}
    assert "INC-1" in status.json()["message"]["text"]
    tickets, inbox, outbox = state(settings)
    assert tickets == 1
    assert inbox == {"done": 2}
    assert [s for s, _ in outbox] == ["sent", "sent"]
    # Structured logs reach the standard library once logging is configured, before that
    # file descriptor 1 (`tests.log_output`), which `capfd` reads.
    logs = caplog.text + capfd.readouterr().out
    assert "meta.sent" in logs
    for secret in (PAGE_TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in logs


def test_a_reply_outside_the_window_waits_until_the_person_writes_again(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    settings = with_meta(any_settings, fake, hold_seconds=1.0)
    two_days_ago = now_ms() - 2 * 86_400_000
    old = body(MESSENGER_TEXT, text=REPORT, mid="m_old_report", sender=PSID, timestamp=two_days_ago)
    with app_for(settings, understander) as client:
        post(client, old)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            _, _, outbox = state(settings)
            if outbox and "messaging window" in outbox[0][1]:
                break
            time.sleep(0.2)
        tickets, _, held = state(settings)
        assert tickets == 1
        assert held[0][0] == "pending"
        assert "messaging window" in held[0][1]
        assert fake.calls_to(SEND_PATH) == []

        again = body(MESSENGER_TEXT, text="thanks", mid="m_new", sender=PSID, timestamp=now_ms())
        post(client, again)
        first, second = fake.wait_for(SEND_PATH, 2, timeout=WAIT)

    assert "INC-1" in first.json()["message"]["text"]
    assert first.json()["messaging_type"] == "RESPONSE"
    assert second.json()["recipient"] == {"id": PSID}
    _, _, outbox = state(settings)
    assert [s for s, _ in outbox] == ["sent", "sent"]


def test_forged_missing_and_duplicated_signatures_leave_no_trace(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    raw = body(MESSENGER_TEXT, text=REPORT, mid="m_forged", sender=PSID, timestamp=now_ms())
    good = sign(raw)
    digest = bytes.fromhex(good.removeprefix("sha256="))
    forgeries: list[tuple[bytes, list[tuple[str, str]]]] = [
        (raw, []),
        (raw, [("X-Hub-Signature-256", "")]),
        (raw, [("X-Hub-Signature-256", good), ("X-Hub-Signature-256", good)]),
        (raw, [("X-Hub-Signature-256", sign(raw, APP_SECRET + "x"))]),
        (raw, [("X-Hub-Signature", good)]),
        (raw + b" ", [("X-Hub-Signature-256", good)]),
        (raw.replace(b"VPN", b"WAN"), [("X-Hub-Signature-256", good)]),
    ]
    for bit in range(len(digest) * 8):
        flipped = bytearray(digest)
        flipped[bit // 8] ^= 1 << (bit % 8)
        forgeries.append((raw, [("X-Hub-Signature-256", "sha256=" + flipped.hex())]))
    settings = with_meta(any_settings, fake)
    with app_for(settings, understander) as client:
        statuses = {
            client.post("/meta/webhook", content=b, headers=h).status_code for b, h in forgeries
        }
        malformed = b'{"object": "page", "entry": {"id": "1"}}'
        bad = client.post("/meta/webhook", content=malformed, headers=signed_headers(malformed))
        not_json = client.post("/meta/webhook", content=b"{", headers=signed_headers(b"{"))
        read = body("messenger_message_reads.json")
        ignored = client.post("/meta/webhook", content=read, headers=signed_headers(read))
        too_big = client.post(
            "/meta/webhook",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers=signed_headers(b"{}"),
        )
    assert len(forgeries) >= 200
    assert statuses == {401}
    assert bad.status_code == 400
    assert "entry" in bad.json()["error"]
    assert not_json.status_code == 400
    assert ignored.json() == {"accepted": 0, "duplicate": 0}
    assert too_big.status_code == 413
    assert state(settings) == (0, {}, [])
    assert fake.calls == []


def test_the_handshake_answers_only_the_verify_token(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    settings = with_meta(any_settings, fake)
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    with app_for(settings, understander) as client:
        good = client.get("/meta/webhook", params=query)
        wrong = client.get("/meta/webhook", params={**query, "hub.verify_token": "guess"})
        no_challenge = client.get("/meta/webhook", params={**query, "hub.challenge": ""})
    assert (good.status_code, good.text) == (200, "1158201444")
    assert wrong.status_code == 403
    assert "1158201444" not in wrong.text
    assert no_challenge.status_code == 400


def test_unconfigured_the_routes_refuse_everything_and_store_nothing(
    any_settings: Settings, understander: Understander, fake: FakeMetaApi
) -> None:
    raw = body(MESSENGER_TEXT, text=REPORT, mid="m_unconfigured", sender=PSID, timestamp=now_ms())
    query = {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"}
    with app_for(any_settings, understander) as client:
        handshake = client.get("/meta/webhook", params=query)
        delivery = client.post("/meta/webhook", content=raw, headers=signed_headers(raw))
        unsigned = client.post("/meta/webhook", content=raw)
    assert handshake.status_code == 403
    assert (delivery.status_code, unsigned.status_code) == (401, 401)
    assert state(any_settings) == (0, {}, [])
