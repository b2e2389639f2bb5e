"""X through the whole pipeline: mentions polled from a fake X API, the webhook, replies out.

The app runs with its lifespan (worker, dispatcher, scheduler), tweepy's real `AsyncClient`
talks to `FakeXApi` over HTTP, and every webhook body is a documented payload, signed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.config import Settings, XSettings
from bot.container import Overrides
from channels.x.render import PUBLIC_TEXT
from nlu.types import Understander
from tests.fakes.x_api import (
    ACCOUNT,
    WEBHOOK_SECRET,
    FakeXApi,
    activity_dm,
    activity_tweets,
    rate_limited,
    sign,
    signed_headers,
    v1_tweet,
)
from tests.payloads import load

US = ACCOUNT["id"]
CUSTOMER = "3001969357"
MENTIONS = f"/2/users/{US}/mentions"
DMS = f"/2/dm_conversations/with/{CUSTOMER}/messages"
WAIT = 30.0


@pytest.fixture
def fake(no_network: None) -> Iterator[FakeXApi]:
    with FakeXApi() as api:
        yield api  # type: ignore[misc]


def with_x(settings: Settings, fake: FakeXApi) -> Settings:
    x = XSettings(
        _env_file=None,  # type: ignore[call-arg]
        consumer_key="test-consumer-key",
        consumer_secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
        access_token="1111-test-access-token",  # type: ignore[arg-type]
        access_token_secret="test-access-token-secret",  # type: ignore[arg-type]
        api_url=fake.base_url,
        poll_interval=1.0,
        dm_poll_interval=0.0,
    )
    return settings.model_copy(update={"x": x})


def app_for(settings: Settings, understander: Understander) -> TestClient:
    return TestClient(create_app(settings, overrides=Overrides(understander=understander)))


async def _counts(settings: Settings) -> tuple[int, dict[str, int], dict[str, int]]:
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            return await uow.tickets.count(), await uow.inbox.counts(), await uow.outbox.counts()
    finally:
        await engine.dispose()


def counts(settings: Settings) -> tuple[int, dict[str, int], dict[str, int]]:
    """Tickets, inbox rows by status and outbox rows by status."""
    return asyncio.run(_counts(settings))


def inbox_events(client: TestClient) -> dict[str, float]:
    """`switchboard_inbox_events_total` for X, by outcome, as /metrics shows it."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "switchboard_inbox_events_total" and sample.labels["platform"] == "x":
                found[sample.labels["outcome"]] = sample.value
    return found


def more_polls(fake: FakeXApi, n: int = 2) -> None:
    """Wait for `n` more mention polls: whatever the last one found has been handed on."""
    fake.wait_for(MENTIONS, len(fake.calls_to(MENTIONS)) + n, timeout=WAIT)


def test_a_mention_gets_one_ticket_one_public_reply_and_a_dm_even_after_a_restart(
    any_settings: Settings, understander: Understander, fake: FakeXApi
) -> None:
    tid = fake.add_mention(
        "@TwitterDev the VPN is down for our whole office, nobody can connect",
        author_id=CUSTOMER,
        username="jordan_b",
    )
    settings = with_x(any_settings, fake)
    with app_for(settings, understander):
        [public] = fake.wait_for("/2/tweets", 1, timeout=WAIT)
        fake.wait_for(DMS, 1, timeout=WAIT)
        more_polls(fake)

    assert public.json() == {
        "text": PUBLIC_TEXT.format(ref="INC-1"),
        "reply": {"in_reply_to_tweet_id": tid},
    }
    for personal in ("jordan", "Jordan", "VPN", "office", "P1"):
        assert personal not in public.json()["text"]
    [details] = fake.dms(CUSTOMER)
    assert "INC-1" in details
    assert "VPN" in details
    assert fake.last(MENTIONS).query["since_id"] == [tid]

    # A restart, and the platform serves the same mention again: nobody is answered twice.
    fake.honour_since_id = False
    restarted_at = len(fake.calls_to(MENTIONS))
    with app_for(settings, understander):
        more_polls(fake)
    assert fake.calls_to(MENTIONS)[restarted_at].query["since_id"] == [tid]
    assert len(fake.tweets()) == 1
    assert len(fake.dms(CUSTOMER)) == 1
    tickets, inbox, outbox = counts(settings)
    assert tickets == 1
    assert inbox == {"done": 1}
    assert outbox == {"sent": 1}


def test_a_customer_report_is_logged_at_once_and_the_reply_waits_out_the_rate_limit(
    any_settings: Settings, understander: Understander, fake: FakeXApi
) -> None:
    tid = fake.add_mention("@TwitterDev my computer is broken", author_id=CUSTOMER, username="jb")
    # X is rate limiting posts when the report comes in: the public reply must wait.
    reset = int(time.time()) + 2
    fake.add_response("/2/tweets", **rate_limited(reset))
    settings = with_x(any_settings, fake)
    with app_for(settings, understander) as client:
        before = inbox_events(client)
        fake.wait_for("/2/tweets", 2, timeout=WAIT)
        [details] = fake.wait_for(DMS, 1, timeout=WAIT)
        # A customer is never asked for the names of our systems: the ticket exists already.
        assert "INC-1" in details.json()["text"]
        assert "system" not in details.json()["text"].lower()

        thanks = activity_dm(
            "thanks a lot!",
            sender_id=CUSTOMER,
            screen_name="jb",
            for_user_id=US,
            event_id="1582838499983564807",
        )
        first = client.post("/x/webhook", content=thanks, headers=signed_headers(thanks))
        retry = client.post("/x/webhook", content=thanks, headers=signed_headers(thanks))
        assert (first.json(), retry.json()) == (
            {"accepted": 1, "duplicate": 0},
            {"accepted": 0, "duplicate": 1},
        )
        fake.wait_for(DMS, 2, timeout=WAIT)
        after = inbox_events(client)

    refused, posted = fake.tweets()
    assert refused == posted
    assert posted["reply"] == {"in_reply_to_tweet_id": tid}
    assert "INC-1" in posted["text"]
    _, second_try = fake.wall_times("/2/tweets")
    assert second_try >= reset
    assert after["accepted"] - before.get("accepted", 0) >= 1
    assert after["duplicate"] - before.get("duplicate", 0) >= 1
    tickets, _, outbox = counts(settings)
    assert tickets == 1
    assert outbox == {"sent": 2}


def test_forged_webhooks_leave_no_trace_and_the_challenge_is_answered(
    any_settings: Settings, understander: Understander, fake: FakeXApi
) -> None:
    body = activity_tweets(
        v1_tweet(
            "@TwitterDev the VPN is down",
            tweet_id="1924465506158878979",
            author_id=CUSTOMER,
            screen_name="jb",
            mentions=[(US, ACCOUNT["username"])],
        ),
        for_user_id=US,
    )
    good = sign(body)
    digest = base64.b64decode(good.removeprefix("sha256="))
    forgeries: list[tuple[bytes, dict[str, str]]] = [
        (body, {}),
        (body, {"x-twitter-webhooks-signature": ""}),
    ]
    for bit in range(len(digest) * 8):
        flipped = bytearray(digest)
        flipped[bit // 8] ^= 1 << (bit % 8)
        forgeries.append(
            (body, {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(flipped).decode()})
        )
    forgeries += [
        (body, signed_headers(body, WEBHOOK_SECRET + "x")),
        (body + b" ", {"x-twitter-webhooks-signature": good}),
        (body.replace(b"VPN", b"WAN"), {"x-twitter-webhooks-signature": good}),
    ]
    settings = with_x(any_settings, fake)
    case = load("twitter", "crc_and_signature_test_vectors.json")["crc_example"]
    with app_for(settings, understander) as client:
        before = inbox_events(client)
        statuses = {
            client.post("/x/webhook", content=b, headers=h).status_code for b, h in forgeries
        }
        more_polls(fake)
        after = inbox_events(client)
        crc = client.get("/x/webhook", params={"crc_token": case["crc_token"]})
        no_token = client.get("/x/webhook")
        too_big = client.post(
            "/x/webhook",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers=signed_headers(b"{}"),
        )
    assert len(forgeries) >= 200
    assert statuses == {401}
    assert after["rejected"] - before.get("rejected", 0) == len(forgeries)
    assert counts(settings) == (0, {}, {})
    assert [c.path for c in fake.calls if c.method != "GET"] == []
    mac = hmac.new(WEBHOOK_SECRET.encode(), case["crc_token"].encode(), hashlib.sha256)
    expected = "sha256=" + base64.b64encode(mac.digest()).decode()
    assert crc.status_code == 200
    assert crc.json() == {"response_token": expected}
    assert no_token.status_code == 400
    assert too_big.status_code == 413
