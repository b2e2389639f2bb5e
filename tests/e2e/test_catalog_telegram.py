"""A catalog order on Telegram, end to end: the form in chat, the manager's button, an
automation against a fake identity service over HTTP, then a group's task done from its chat.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from tests.e2e.test_cmdb_api import load
from tests.e2e.test_telegram_webhook import bind, post, with_telegram
from tests.fakes.identity_service import SECRET, FakeIdentityService
from tests.fakes.telegram_api import FakeTelegramApi, callback_update, private_update

ALICE, DAN, BOB = 5550101, 5550120, 5550130
HARDWARE_CHAT = -100777


@pytest.fixture
def fake() -> Iterator[FakeTelegramApi]:
    api = FakeTelegramApi()
    with api:
        yield api


def desk(url: str) -> str:
    return f"""
groups:
  - {{name: hardware, members: [bob@example.com], telegram_chat: "{HARDWARE_CHAT}"}}
catalog:
  - name: New laptop
    aliases: [laptop]
    fields:
      - {{name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}}
    approval: manager
    fulfilment:
      group: hardware
      tasks:
        - {{name: Order from the supplier, automation: true}}
        - {{name: Set up the laptop, group: hardware}}
    automation: {{url: "{url}/reset"}}
"""


async def manager(settings: Settings) -> None:
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            dan = await uow.people.by_email("dan@example.com")
            assert alice is not None
            assert dan is not None
            alice.manager_id = dan.id
            await uow.commit()
    finally:
        await engine.dispose()


def seen(fake: FakeTelegramApi, chat: int, check: Callable[[dict[str, Any]], bool]) -> Any:
    """The first message the bot posted in `chat` that passes `check` (waits for it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for m in fake.posted_to(chat):
            if check(m):
                return m
        time.sleep(0.02)
    raise AssertionError(f"never saw it in {chat}: {[m['text'] for m in fake.posted_to(chat)]}")


def button(message: dict[str, Any], label: str) -> str:
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    return str(next(b for b in buttons if b["text"] == label)["callback_data"])


def test_a_laptop_ordered_approved_automated_and_set_up_on_telegram(
    demo_settings: Settings,
    understander: Understander,
    fake: FakeTelegramApi,
    identity_service: FakeIdentityService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    settings = with_telegram(demo_settings, fake)
    path = tmp_path / "desk.yml"
    path.write_text(desk(identity_service.url), "utf-8")
    asyncio.run(load(settings, path))
    asyncio.run(manager(settings))
    for email, uid in (("alice", ALICE), ("dan", DAN), ("bob", BOB)):
        asyncio.run(bind(settings, f"{email}@example.com", "telegram", str(uid)))
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        post(client, private_update(8101, "I need a new laptop", user_id=ALICE))
        seen(fake, ALICE, lambda m: "Which model?" in m["text"])
        post(client, private_update(8102, "2", user_id=ALICE))
        summary = seen(fake, ALICE, lambda m: "Submit it?" in m["text"])
        assert "It needs approval by your manager." in summary["text"]
        post(client, private_update(8103, "yes", user_id=ALICE))
        seen(fake, ALICE, lambda m: "waiting for approval by Dan Requester" in m["text"])

        asked = seen(fake, DAN, lambda m: "asks for New laptop (REQ-1)" in m["text"])
        post(client, callback_update(8104, button(asked, "Approve"), message=asked, user_id=DAN))

        # The automation ran against the identity service, signed; the group's task opened.
        task = seen(fake, HARDWARE_CHAT, lambda m: "Task REQ-1/2" in m["text"])
        [(headers, body)] = identity_service.posts("/reset")
        assert json.loads(body)["answers"] == {"model": "16-inch"}
        assert headers["X-Switchboard-Signature"].startswith("sha256=")
        seen(fake, ALICE, lambda m: "was approved by Dan Requester" in m["text"])

        # Bob presses Done in the group's chat; Alice hears that her laptop is ready.
        post(client, callback_update(8105, button(task, "Done"), message=task, user_id=BOB))
        done = seen(fake, ALICE, lambda m: m["text"].startswith("REQ-1 is done"))
        assert "Order from the supplier, Set up the laptop" in done["text"]
