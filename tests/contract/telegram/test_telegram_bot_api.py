"""The Telegram channel's real PTB client against a fake Bot API over HTTP."""

from __future__ import annotations

import asyncio
import io
import logging
import traceback
from collections.abc import AsyncIterator, Iterator

import pytest
import structlog

from bot.config import Settings
from channels.base import ConfigurationError, DeliveryError, IngestOutcome
from channels.conversation import Action, Address, Button, Event, Message, Reply, TicketCard
from channels.telegram.channel import TelegramChannel
from channels.telegram.parse import BotInfo
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, callback_update, private_update
from tests.payloads import load

CHAT = Address(channel="telegram", conversation="5550102", user="5550102")


@pytest.fixture
def fake() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


class Cursors:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


@pytest.fixture
async def channel(fake: FakeTelegramApi) -> AsyncIterator[TelegramChannel]:
    ch = TelegramChannel(
        token=TOKEN, secret_token="secret", api_url=fake.api_url, webhook=True, request_timeout=5
    )
    await ch.start()
    try:
        yield ch
    finally:
        await ch.aclose()


async def test_start_asks_who_we_are(channel: TelegramChannel, fake: FakeTelegramApi) -> None:
    assert channel.me == BotInfo(id=fake.bot_id, username=fake.username)
    assert len(fake.calls_to(fake.path("getMe"))) == 1


async def test_send_posts_html_with_an_inline_keyboard(
    channel: TelegramChannel, fake: FakeTelegramApi
) -> None:
    reply = Reply(
        text="Alice <alice@example.com> requests CHG-3 & more. Approve or reject?",
        card=TicketCard(
            ref="CHG-3", title="Restart <mail>", kind="change", status="new", version=2
        ),
        buttons=(
            Button(label="Approve", action="approve", value="CHG-3"),
            Button(label="Reject", action="reject", value="CHG-3"),
        ),
    )
    delivery = await channel.send(CHAT, reply)
    [sent] = fake.sent()
    assert delivery.external_id == "1000"
    assert sent["chat_id"] == "5550102"
    assert sent["parse_mode"] == "HTML"
    assert sent["text"].startswith("Alice &lt;alice@example.com&gt; requests CHG-3 &amp; more.")
    assert "<b>CHG-3</b> · Restart &lt;mail&gt;" in sent["text"]
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert [[b["callback_data"] for b in row] for row in keyboard] == [
        ["approve|2|CHG-3", "reject|2|CHG-3"]
    ]


async def test_edit_updates_the_clicked_message(
    channel: TelegramChannel, fake: FakeTelegramApi
) -> None:
    delivery = await channel.send(CHAT, Reply(text="You approved CHG-3.", edit_id="1234"))
    [edit] = fake.sent("editMessageText")
    assert edit["message_id"] == "1234"
    assert edit["chat_id"] == "5550102"
    assert "reply_markup" not in edit  # the decided card loses its buttons
    assert delivery.external_id == "1234"
    assert fake.sent() == []


async def test_edit_of_a_vanished_message_posts_a_new_one(
    channel: TelegramChannel, fake: FakeTelegramApi
) -> None:
    fake.add_response(
        fake.path("editMessageText"),
        status=400,
        json={
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message to edit not found",
        },
    )
    delivery = await channel.send(CHAT, Reply(text="You approved CHG-3.", edit_id="1234"))
    assert delivery.external_id == "1000"
    assert len(fake.sent()) == 1


async def test_unchanged_edit_is_delivered(channel: TelegramChannel, fake: FakeTelegramApi) -> None:
    fake.add_response(
        fake.path("editMessageText"),
        status=400,
        json={
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message is not modified: specified new message content",
        },
    )
    delivery = await channel.send(CHAT, Reply(text="Same", edit_id="77"))
    assert delivery.external_id == "77"


async def test_flood_control_gives_the_advertised_wait(
    channel: TelegramChannel, fake: FakeTelegramApi
) -> None:
    flood = load("telegram", "api_429_flood_control_response.json")
    fake.add_response(fake.path("sendMessage"), status=429, json=flood["body"])
    with pytest.raises(DeliveryError) as caught:
        await channel.send(CHAT, Reply(text="hi"))
    assert caught.value.retry_after == 35
    assert not caught.value.permanent
    assert not caught.value.ambiguous


@pytest.mark.parametrize(
    ("status", "description"),
    [
        (403, "Forbidden: bot was blocked by the user"),
        (400, "Bad Request: chat not found"),
    ],
)
async def test_blocked_or_unknown_chat_is_permanent(
    channel: TelegramChannel, fake: FakeTelegramApi, status: int, description: str
) -> None:
    fake.add_response(
        fake.path("sendMessage"),
        status=status,
        json={"ok": False, "error_code": status, "description": description},
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(CHAT, Reply(text="hi"))
    assert caught.value.permanent


async def test_server_error_is_retried(channel: TelegramChannel, fake: FakeTelegramApi) -> None:
    fake.add_response(
        fake.path("sendMessage"),
        status=502,
        json={"ok": False, "error_code": 502, "description": "Bad Gateway"},
    )
    with pytest.raises(DeliveryError) as caught:
        await channel.send(CHAT, Reply(text="hi"))
    assert not caught.value.permanent
    assert not caught.value.ambiguous


async def test_group_migrated_to_supergroup_is_followed(
    channel: TelegramChannel, fake: FakeTelegramApi
) -> None:
    fake.add_response(
        fake.path("sendMessage"),
        status=400,
        json={
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: group chat was upgraded to a supergroup chat",
            "parameters": {"migrate_to_chat_id": -1001234567890},
        },
    )
    group = Address(channel="telegram", conversation="-4242", user="5550102")
    await channel.send(group, Reply(text="hi"))
    assert [s["chat_id"] for s in fake.sent()] == ["-4242", "-1001234567890"]


# -- long polling ----------------------------------------------------------------------------


async def _poll(channel: TelegramChannel, ingest, until) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(channel.run(ingest, stop))
    try:
        for _ in range(500):
            if until():
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)


async def test_polling_ingests_quarantines_and_keeps_its_offset(fake: FakeTelegramApi) -> None:
    cursors = Cursors()
    dropped: list[tuple[str, str]] = []
    ch = TelegramChannel(
        token=TOKEN,
        secret_token=None,
        api_url=fake.api_url,
        webhook=False,
        cursors=cursors,
        on_drop=lambda p, r: dropped.append((p, r)),
        poll_timeout=0,
        idle_delay=0.05,
    )
    await ch.start()
    fake.push_update(private_update(501, "my laptop will not boot"))
    fake.push_update(load("telegram", "docs_update_message_audio.json") | {"update_id": 502})
    sent = await ch.send(
        CHAT,
        Reply(text="Approve?", buttons=(Button(label="Approve", action="approve", value="CHG-1"),)),
    )
    message = {
        "message_id": int(sent.external_id or 0),
        "date": 1721592028,
        "chat": {"id": 111111111, "type": "private", "first_name": "Test User"},
        "from": fake.bot_user,
        "text": "Approve?",
    }
    fake.push_update(callback_update(503, "approve||CHG-1", message=message))
    got: list[Event] = []

    async def ingest(event: Event) -> IngestOutcome:
        got.append(event)
        return IngestOutcome.ACCEPTED

    await _poll(
        ch, ingest, lambda: len(got) >= 2 and fake.calls_to(fake.path("answerCallbackQuery"))
    )
    assert [e.event_id for e in got] == ["501", "503"]
    assert isinstance(got[0], Message)
    assert got[0].text == "my laptop will not boot"
    assert isinstance(got[1], Action)
    assert got[1].message_id == sent.external_id
    assert ("telegram", "quarantined") in dropped
    assert cursors.values == {f"telegram.offset:{fake.bot_id}": "504"}
    [answer] = fake.sent("answerCallbackQuery")
    assert answer["callback_query_id"] == "cb503"
    await ch.aclose()


async def test_polling_restart_neither_repeats_nor_skips(fake: FakeTelegramApi) -> None:
    cursors = Cursors()
    for i in (601, 602, 603):
        fake.push_update(private_update(i, f"message {i}"))
    got: list[str] = []
    fail_once = {"602"}
    stop_after = asyncio.Event()

    async def ingest(event: Event) -> IngestOutcome:
        if event.event_id in fail_once:
            fail_once.clear()
            raise OSError("database went away")
        got.append(event.event_id)
        if event.event_id == "603":
            stop_after.set()
        return IngestOutcome.ACCEPTED

    def make() -> TelegramChannel:
        return TelegramChannel(
            token=TOKEN,
            secret_token=None,
            api_url=fake.api_url,
            webhook=False,
            cursors=cursors,
            poll_timeout=0,
            idle_delay=0.05,
        )

    first = make()
    await first.start()
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(ingest, stop))
    await asyncio.wait_for(stop_after.wait(), timeout=15)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    await first.aclose()
    # 602 failed once and came again; nothing was skipped, nothing doubled.
    assert got == ["601", "602", "603"]
    assert cursors.values[f"telegram.offset:{fake.bot_id}"] == "604"

    second = make()
    await second.start()
    fake.push_update(private_update(604, "after restart"))
    await _poll(second, ingest, lambda: "604" in got)
    await second.aclose()
    assert got == ["601", "602", "603", "604"]
    offsets = [c.data().get("offset") for c in fake.calls_to(fake.path("getUpdates"))]
    assert offsets[0] in (None, "")  # the very first poll knew no offset
    assert "604" in offsets[offsets.index("604") :]  # the restart began where it stopped


# -- the token -------------------------------------------------------------------------------


@pytest.fixture
def debug_logs() -> Iterator[io.StringIO]:
    """The production log configuration at DEBUG, its one handler writing to a buffer."""
    from bot.logging import configure

    root = logging.getLogger()
    saved = (root.handlers[:], root.level, structlog.get_config())
    names = ("httpx", "httpcore", "telegram", "telegram.Bot", "telegram.request")
    levels = {n: logging.getLogger(n).level for n in names}
    configure("DEBUG", "json")
    buffer = io.StringIO()
    ours = [h for h in root.handlers if isinstance(h, logging.StreamHandler)]
    for handler in ours:
        handler.setStream(buffer)
    for name in ("telegram", "telegram.Bot", "telegram.request"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.handlers[:], level, config = saved
        root.setLevel(level)
        structlog.configure(**config)
        for name, lvl in levels.items():
            logging.getLogger(name).setLevel(lvl)


async def test_the_token_never_reaches_logs_or_errors(
    fake: FakeTelegramApi, debug_logs: io.StringIO
) -> None:
    wrong = TOKEN[:-4] + "zzzz"
    bad = TelegramChannel(token=wrong, secret_token="s", api_url=fake.api_url, webhook=True)
    with pytest.raises(ConfigurationError) as caught:
        await bad.start()
    shown = "".join(traceback.format_exception(caught.value))
    assert wrong not in shown
    assert "rejected" in str(caught.value)
    assert wrong not in repr(bad)

    good = TelegramChannel(token=TOKEN, secret_token="s", api_url=fake.api_url, webhook=True)
    await good.start()
    await good.send(CHAT, Reply(text="hello"))
    fake.add_response(fake.path("sendMessage"), status=500, json={"ok": False, "description": "x"})
    with pytest.raises(DeliveryError) as failed:
        await good.send(CHAT, Reply(text="hello"))
    await good.aclose()
    structlog.get_logger("test").error(
        "outbox.refused", error=str(failed.value), url=fake.api_url + TOKEN
    )
    everything = debug_logs.getvalue()
    # PTB logged its URLs and calls at DEBUG, and we logged one holding the token on purpose.
    assert "Set Bot API URL" in everything
    assert "sendMessage" in everything
    assert "outbox.refused" in everything
    assert "[telegram-token]" in everything
    assert TOKEN not in everything
    assert wrong not in everything
    assert TOKEN.split(":")[1] not in everything


def test_the_app_refuses_webhook_mode_without_a_secret(settings: Settings) -> None:
    from bot.app import create_app
    from bot.config import TelegramSettings

    telegram = TelegramSettings(_env_file=None, bot_token=TOKEN)  # type: ignore[call-arg]
    webhook = settings.model_copy(
        update={"telegram": telegram, "public_url": "https://switchboard.example.com"}
    )
    with pytest.raises(ConfigurationError, match="TELEGRAM_SECRET_TOKEN"):
        create_app(webhook)
    polling = settings.model_copy(update={"telegram": telegram, "public_url": None})
    assert create_app(polling) is not None


SDK_LOGGERS = ("httpx", "httpcore.http11", "telegram", "telegram.Bot", "telegram.HTTPXRequest")


async def test_debug_records_carry_no_token_and_no_phone_number(
    fake: FakeTelegramApi, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The records themselves are clean, before any formatter of ours sees them."""
    caplog.set_level(logging.DEBUG)
    for name in SDK_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    wrong = TOKEN[:-4] + "zzzz"
    with pytest.raises(ConfigurationError):
        await TelegramChannel(
            token=wrong, secret_token="s3cret-header", api_url=fake.api_url, webhook=True
        ).start()
    ch = TelegramChannel(
        token=TOKEN, secret_token="s3cret-header", api_url=fake.api_url, webhook=True
    )
    await ch.start()
    try:
        await ch.send(CHAT, Reply(text="Call the desk on +44 20 7946 0958 or 07911 123456"))
        fake.add_response(fake.path("sendMessage"), status=502, json={"ok": False})
        with pytest.raises(DeliveryError) as failed:
            await ch.send(CHAT, Reply(text="again"))
    finally:
        await ch.aclose()
    records = "\n".join(
        [r.getMessage() for r in caplog.records] + [r.exc_text or "" for r in caplog.records]
    )
    everything = records + caplog.text + capfd.readouterr().out + str(failed.value)
    # Positive signals first: the SDKs did log their URLs and the call with its text.
    assert "HTTP Request: POST" in records
    assert "sendMessage" in records
    assert "+44******0958" in records
    for secret in (TOKEN, TOKEN.split(":")[1], wrong, wrong.split(":")[1], "s3cret-header"):
        assert secret not in everything
    assert "7946 0958" not in everything
    assert "123456" not in everything.replace(str(fake.bot_id), "")


async def test_a_webhook_channel_has_nothing_to_poll(fake: FakeTelegramApi) -> None:
    from channels.base import PollingChannel

    webhook = TelegramChannel(token=TOKEN, secret_token="s", api_url=fake.api_url, webhook=True)
    polling = TelegramChannel(token=TOKEN, secret_token=None, api_url=fake.api_url, webhook=False)
    assert isinstance(webhook, PollingChannel)
    assert webhook.polls is False
    assert polling.polls is True
    await webhook.start()
    try:
        # Started by mistake all the same, it returns at once without asking for updates.
        await asyncio.wait_for(webhook.run(lambda e: None, asyncio.Event()), timeout=5)  # type: ignore[arg-type,return-value]
    finally:
        await webhook.aclose()
    assert fake.calls_to(fake.path("getUpdates")) == []
    assert fake.calls_to(fake.path("deleteWebhook")) == []
