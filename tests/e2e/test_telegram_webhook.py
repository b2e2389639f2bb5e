"""Telegram through the whole pipeline: webhook in, real PTB client out to a fake Bot API."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.config import Settings, TelegramSettings
from bot.container import Overrides
from nlu.types import Understander
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, callback_update, private_update
from tests.payloads import load

SECRET = "telegram-webhook-secret_42"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
CUSTOMER = 111111111
FRANK = 5550199
ALICE = 5550101


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


@pytest.fixture
def fake(server: FakeTelegramApi) -> FakeTelegramApi:
    server.reset()
    return server


def with_telegram(settings: Settings, fake: FakeTelegramApi) -> Settings:
    telegram = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        secret_token=SECRET,
        api_url=fake.api_url,
    )
    return settings.model_copy(
        update={"telegram": telegram, "public_url": "https://switchboard.example.com"}
    )


def post(client: TestClient, update: dict[str, Any], headers: dict[str, str] = HEADERS) -> Any:
    return client.post("/telegram/webhook", json=update, headers=headers)


async def _count(settings: Settings, sql: str) -> int:
    from sqlalchemy import text

    from store.db import create_engine

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


def count(client: TestClient, settings: Settings, sql: str) -> int:
    return int(client.portal.call(_count, settings, sql))  # type: ignore[union-attr]


def settle(client: TestClient, settings: Settings, platform: str = "telegram") -> None:
    """Wait until every inbox row is handled and every reply has left the outbox."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pending = count(
            client,
            settings,
            f"select count(*) from inbox where platform = '{platform}' and status = 'pending'",
        ) + count(
            client,
            settings,
            "select count(*) from outbox where status in ('pending', 'sending')",
        )
        if pending == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the pipeline did not settle")


def metric(client: TestClient, platform: str, outcome: str) -> float:
    """`switchboard_inbox_events_total{platform, outcome}` as /metrics shows it."""
    body = client.get("/metrics").text
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if (
                sample.name == "switchboard_inbox_events_total"
                and sample.labels.get("platform") == platform
                and sample.labels.get("outcome") == outcome
            ):
                return float(sample.value)
    return 0.0


async def bind(settings: Settings, email: str, platform: str, external_id: str) -> None:
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            await uow.people.bind_identity(person, platform, external_id)
            await uow.commit()
    finally:
        await engine.dispose()


# -- the tests -------------------------------------------------------------------------------


def test_message_makes_one_ticket_and_replies_in_the_chat(
    any_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(any_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        accepted, duplicates = (
            metric(client, "telegram", "accepted"),
            metric(client, "telegram", "duplicate"),
        )
        update = private_update(7001, "My laptop will not boot <b>at all</b> & I can't work")
        res = post(client, update)
        assert res.status_code == 200
        [sent] = fake.wait_sent(1)
        assert sent["chat_id"] == str(CUSTOMER)
        assert sent["parse_mode"] == "HTML"
        assert "INC-1" in sent["text"]
        # The customer's words come back escaped, never as markup.
        assert "&lt;b&gt;at all&lt;/b&gt;" in sent["text"]
        assert "<b>at all</b>" not in sent["text"]

        # Telegram retries until it gets a 200; the same update again, also concurrently.
        assert post(client, update).status_code == 200
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(lambda _: post(client, update).status_code, range(8)))
        assert codes == [200] * 8
        settle(client, settings)
        assert count(client, settings, "select count(*) from tickets") == 1
        assert count(client, settings, "select count(*) from inbox where platform='telegram'") == 1
        assert len(fake.sent()) == 1
        assert metric(client, "telegram", "accepted") == accepted + 1
        assert metric(client, "telegram", "duplicate") == duplicates + 9


def test_forged_updates_are_refused_without_a_trace(
    any_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(any_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        rejected = metric(client, "telegram", "rejected")
        fake.reset()
        forgeries = [
            {},
            {"X-Telegram-Bot-Api-Secret-Token": ""},
            {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]},
            {"X-Telegram-Bot-Api-Secret-Token": SECRET + "0"},
            {"X-Telegram-Bot-Api-Secret-Token": TOKEN},
            {"X-Telegram-Bot-Api-Secret-Token": SECRET.swapcase()},
        ]
        # Every one-character change of the secret, and a few hundred random guesses.
        rng = random.Random(7)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
        for i in range(len(SECRET)):
            swapped = SECRET[:i] + ("x" if SECRET[i] != "x" else "y") + SECRET[i + 1 :]
            forgeries.append({"X-Telegram-Bot-Api-Secret-Token": swapped})
        forgeries += [
            {"X-Telegram-Bot-Api-Secret-Token": "".join(rng.choices(alphabet, k=len(SECRET)))}
            for _ in range(180)
        ]
        for i, headers in enumerate(forgeries):
            res = post(client, private_update(7100 + i, "I am the admin, reset all"), headers)
            assert res.status_code == 401
        # A genuine update after the forgeries: once its reply has gone, anything a forgery
        # had slipped into the pipeline ahead of it would have been handled too.
        assert post(client, private_update(7000, "my laptop will not boot")).status_code == 200
        [sent] = fake.wait_sent(1)
        settle(client, settings)
        assert "reset all" not in sent["text"]
        assert count(client, settings, "select count(*) from inbox") == 1
        assert count(client, settings, "select count(*) from outbox") == 1
        assert len(fake.sent()) == 1
        assert metric(client, "telegram", "rejected") == rejected + len(forgeries)


def test_updates_we_cannot_use(
    demo_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        ignored = metric(client, "telegram", "ignored")
        quarantined = metric(client, "telegram", "quarantined")
        edited = load("telegram", "docs_update_edited_message.json")
        blocked = load("telegram", "teloxide_update_my_chat_member_bot_blocked.json")
        audio = load("telegram", "docs_update_message_audio.json")  # no file_unique_id
        group_chatter = copy.deepcopy(
            load("telegram", "teloxide_update_message_supergroup_bot_command_reply.json")
        )
        group_chatter["message"]["text"] = "lunch anyone?"
        group_chatter["message"]["entities"] = []
        for update in (edited, blocked, group_chatter):
            assert post(client, update).status_code == 200
        for update in (audio, {"update_id": "x"}, [1, 2]):
            assert post(client, update).status_code == 200  # type: ignore[arg-type]
        res = client.post("/telegram/webhook", content=b"{not json", headers=HEADERS)
        assert res.status_code == 400
        # A later message of the same chat is still handled.
        post(client, private_update(7201, "the vpn is down for me", user_id=1111111))
        [sent] = fake.wait_sent(1)
        assert sent["chat_id"] == "1111111"
        assert count(client, settings, "select count(*) from inbox") == 1
        assert metric(client, "telegram", "ignored") == ignored + 3
        assert metric(client, "telegram", "quarantined") == quarantined + 3


def test_flood_control_is_waited_out_and_the_reply_sent_once(
    demo_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(demo_settings, fake)
    flood = load("telegram", "api_429_flood_control_response.json")["body"]
    flood = {
        **flood,
        "parameters": {"retry_after": 1},
        "description": "Too Many Requests: retry after 1",
    }
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        fake.add_response(fake.path("sendMessage"), status=429, json=flood)
        post(client, private_update(7301, "my printer is broken and nobody can print"))
        calls = fake.wait_for(fake.path("sendMessage"), 2, timeout=15)
        settle(client, settings)
        calls = fake.calls_to(fake.path("sendMessage"))
        assert len(calls) == 2
        assert calls[1].at - calls[0].at >= 1.0  # not before the advertised wait
        assert count(client, settings, "select count(*) from outbox where status = 'sent'") == 1


def test_change_approved_from_the_inline_keyboard(
    any_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(any_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        client.portal.call(bind, settings, "frank@example.com", "telegram", str(FRANK))  # type: ignore[union-attr]
        client.portal.call(bind, settings, "alice@example.com", "telegram", str(ALICE))  # type: ignore[union-attr]
        post(client, private_update(7401, "/start", user_id=FRANK, name="Frank"))
        fake.wait_sent(1)
        post(
            client,
            private_update(7402, "restart the mail server on Saturday 22:00", user_id=ALICE),
        )
        fake.wait_sent(2)
        deadline = time.monotonic() + 10
        while not any("reply_markup" in m for m in fake.posted_to(FRANK)):
            assert time.monotonic() < deadline, fake.posted_to(FRANK)
            time.sleep(0.02)
        shown = next(m for m in fake.posted_to(FRANK) if "reply_markup" in m)
        assert "CHG-1" in shown["text"]
        buttons = [b for row in shown["reply_markup"]["inline_keyboard"] for b in row]
        approve = next(b for b in buttons if b["text"] == "Approve")
        assert approve["callback_data"].startswith("approve|")
        click = callback_update(7403, approve["callback_data"], message=shown, user_id=FRANK)
        res = post(client, click)
        assert res.status_code == 200
        assert res.json() == {
            "method": "answerCallbackQuery",
            "callback_query_id": "cb7403",
        }
        [edit] = fake.wait_sent(1, method="editMessageText")
        assert edit["chat_id"] == str(FRANK)
        assert edit["message_id"] == str(shown["message_id"])
        assert "You approved CHG-1" in edit["text"]
        assert "reply_markup" not in edit
        deadline = time.monotonic() + 10
        while not any("was approved" in m["text"] for m in fake.posted_to(ALICE)):
            assert time.monotonic() < deadline, fake.posted_to(ALICE)
            time.sleep(0.02)
        # A second click on the same card (a retry, or a double tap) changes nothing.
        post(client, callback_update(7404, approve["callback_data"], message=shown, user_id=FRANK))
        settle(client, settings)
        status = count(
            client, settings, "select count(*) from tickets where ref='CHG-1' and status='approved'"
        )
        assert status == 1
        assert count(client, settings, "select count(*) from approvals") == 1


def test_long_polling_without_a_public_url(
    demo_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    telegram = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        api_url=fake.api_url,
        poll_timeout=0,
    )
    settings = demo_settings.model_copy(update={"telegram": telegram, "public_url": None})
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        fake.push_update(private_update(7501, "my printer is broken and nobody can print"))
        fake.wait_for(fake.path("sendMessage"), 1, timeout=20)
        [sent] = fake.sent()
        assert "INC-1" in sent["text"]
        settle(client, settings)
        offset = count(
            client,
            settings,
            f"select cast(value as integer) from cursors where key = 'telegram.offset:{fake.bot_id}'",
        )
        assert offset == 7502
        # No secret configured: the webhook route exists but refuses everything.
        assert post(client, private_update(7502, "hi")).status_code == 401
        assert len(fake.calls_to(fake.path("deleteWebhook"))) == 1


def test_customers_see_only_their_own_tickets(
    demo_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        owner, other = 5550801, 5550802
        post(
            client,
            private_update(7601, "the checkout page shows a 500 error when I pay", user_id=owner),
        )
        fake.wait_sent(1)
        post(client, private_update(7602, "what's the status of INC-1", user_id=other))
        post(client, private_update(7603, "what's the status of INC-999", user_id=other))
        fake.wait_sent(3)
        settle(client, settings)
        theirs, missing = (m["text"] for m in fake.posted_to(other))
        assert "couldn't find INC-1" in theirs
        assert theirs == missing.replace("INC-999", "INC-1")
        post(client, private_update(7604, "what's the status of INC-1", user_id=owner))
        fake.wait_sent(4)
        assert "INC-1 is" in fake.posted_to(owner)[-1]["text"]


def test_nul_characters_are_dropped_before_the_inbox(
    any_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    """PostgreSQL's JSON refuses NUL: a text holding one is handled, not retried for a day."""
    settings = with_telegram(any_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        update = private_update(7401, "my laptop\x00 will not boot", name="Nul\x00Person")
        assert post(client, update).status_code == 200
        [sent] = fake.wait_sent(1)
        assert "INC-1" in sent["text"]
        settle(client, settings)
        assert count(client, settings, "select count(*) from inbox where status = 'done'") == 1
        assert count(client, settings, "select count(*) from tickets") == 1
