"""A P1 with a 20 s response target, reported on Slack: warned, breached and escalated.

The ticket is made through the whole pipeline (a signed Slack mention, the worker, the NLU,
routing); the watcher then runs on an injected clock against the app's own database, and
its notifications leave through the real outbox dispatcher, the slack-sdk client and
python-telegram-bot, to the local fake Slack and Telegram APIs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings, SlackSettings, TelegramSettings
from bot.container import Overrides
from bot.desk.apply import apply
from bot.desk.files import read
from bot.sla_watch import SlaWatch
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.uow import UnitOfWork
from tests.conftest import prepare_database
from tests.e2e.conftest import SECRET, eventually, post_json, run, settle
from tests.e2e.test_slack import mention
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

USERS = {
    "U0ALICE": {"email": "alice@example.com", "real_name": "Alice Example"},
    "U0ERIN": {"email": "erin@example.com", "real_name": "Erin Agent"},
}

DESK = """
people:
  - {name: Alice Example, email: alice@example.com, identities: {slack: U0ALICE}}
  - {name: Bob Lead, email: bob@example.com, roles: [agent], identities: {telegram: 5550102}}
  - {name: Erin Agent, email: erin@example.com, roles: [agent], identities: {slack: U0ERIN}}
groups:
  - {name: service-desk, default: true}
  - {name: network, lead: bob@example.com, members: [erin@example.com],
     slack_channel: C0NET, telegram_chat: "-1001234"}
slas:
  - {name: standard, applies_to: {kind: incident},
     targets: {P1: {response: 20s, resolve: 4h}, P2: {response: 20s, resolve: 8h}}}
services:
  - {name: VPN, criticality: critical, owner_group: network, aliases: [vpn]}
"""


@pytest.fixture
def slack() -> Iterator[FakeSlackApi]:
    with FakeSlackApi(USERS) as api:
        yield api


async def load_desk(settings: Settings, path: Path) -> None:
    await prepare_database(settings, demo=False)
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            await apply(uow, read([path]))
            await uow.commit()
    finally:
        await engine.dispose()


@pytest.fixture
def client(
    settings: Settings,
    tmp_path: Path,
    slack: FakeSlackApi,
    telegram_fake: FakeTelegramApi,
    understander: Understander,
) -> Iterator[TestClient]:
    import asyncio

    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load_desk(settings, desk))
    configured = settings.model_copy(
        update={
            "slack": SlackSettings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token="xoxb-e2e-token",
                signing_secret=SECRET,
                api_url=slack.api_url.rstrip("/"),
            ),
            "telegram": TelegramSettings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token=TOKEN,
                secret_token="e2e-telegram-secret",
                api_url=telegram_fake.api_url,
            ),
        }
    )
    app = create_app(configured, overrides=Overrides(understander=understander))
    with TestClient(app) as c:
        yield c


def test_a_p1_is_warned_breached_and_escalated_to_the_lead(
    client: TestClient, slack: FakeSlackApi, telegram_fake: FakeTelegramApi
) -> None:
    assert post_json(
        client, mention("VPN is down for everyone, urgent!", "U0ALICE", n=1)
    ).is_success
    settle(client)
    # Routing posted the new ticket to the group's Slack channel.
    eventually(lambda: slack.in_channel("C0NET"), "the new ticket in C0NET")

    async def clock(uow: Any) -> tuple[str, str, datetime, datetime]:
        ticket = await uow.tickets.by_ref("INC-1")
        assert ticket is not None
        return ticket.ref, ticket.priority.value, ticket.response_warn_at, ticket.response_due_at

    ref, priority, warn_at, due_at = run(client, clock)
    assert priority == "P1"
    assert due_at - warn_at == timedelta(seconds=5)

    container = client.app.state.container  # type: ignore[attr-defined]
    now = [warn_at]
    watch = SlaWatch(
        container.factory,
        topics=container.topics,
        on_sent=container.dispatcher.kick,
        now=lambda: now[0],
    )

    # 75 %: nobody has the ticket, so the group hears it on Slack and on Telegram.
    client.portal.call(watch.tick)  # type: ignore[union-attr]
    warned = eventually(
        lambda: [p for p in slack.in_channel("C0NET") if "close to its response" in p.text],
        "the Slack warning",
    )
    assert ref in json.dumps(warned[0].blocks)
    eventually(
        lambda: [
            m
            for m in telegram_fake.sent()
            if str(m.get("chat_id")) == "-1001234" and "close to its response" in m["text"]
        ],
        "the Telegram warning",
    )

    # 100 %: breached and escalated to Bob, the lead, in his private Telegram chat.
    now[0] = due_at
    client.portal.call(watch.tick)  # type: ignore[union-attr]
    [escalated] = eventually(
        lambda: [m for m in telegram_fake.sent() if str(m.get("chat_id")) == "5550102"],
        "the escalation to the lead",
    )
    assert f"{ref} ({priority}) breached its response target" in escalated["text"]
    assert "escalated to you as lead of network" in escalated["text"]
    # The card comes with it: the ticket's facts and its SLA line.
    assert "SLA: response breached" in escalated["text"]
    buttons = [b["text"] for row in escalated["reply_markup"]["inline_keyboard"] for b in row]
    assert "Assign to me" in buttons
    settle(client)

    async def log(uow: Any) -> list[str]:
        ticket = await uow.tickets.by_ref(ref)
        return [e.action for e in await uow.tickets.events(ticket.id)]

    actions = run(client, log)
    assert actions.count("sla_warning") == 1
    assert actions.count("sla_breached") == 1
    assert "escalated" in actions
    # Nothing more is due until the resolution warning: another tick sends nothing.
    sent_before = len(telegram_fake.sent()) + len(slack.posted)
    assert client.portal.call(watch.tick).acted == 0  # type: ignore[union-attr]
    assert len(telegram_fake.sent()) + len(slack.posted) == sent_before
