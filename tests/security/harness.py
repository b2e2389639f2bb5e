"""One app with every platform switched on against the local fakes, and what it stored.

Slack, Telegram, Twilio (SMS and WhatsApp) and X run with their real SDK clients pointed at
the fakes of `tests/fakes/`; the web chat and the REST API are always on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.config import (
    MetaSettings,
    Settings,
    SlackSettings,
    TelegramSettings,
    TwilioSettings,
    XSettings,
)
from bot.container import ALL_ROLES, Container, Overrides, Role
from nlu.types import Understander
from store.models import InboxEvent, Ticket
from tests.conftest import PG_ENV, _admin, _with_database, make_settings, prepare_database
from tests.fakes.meta_api import APP_SECRET, PAGE_TOKEN, VERIFY_TOKEN, FakeMetaApi
from tests.fakes.server import FakeApi
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    WHATSAPP_FROM,
    FakeTwilioApi,
)
from tests.fakes.x_api import WEBHOOK_SECRET, FakeXApi

PUBLIC = "https://switchboard.example.com"
SLACK_SECRET = "security-signing-secret-0123456789ab"
SLACK_TOKEN = "xoxb-security-0123456789-abcdefghijkl"
TELEGRAM_SECRET = "telegram-security-secret_0123456789"
USERS = {
    "U0ALICE": {"email": "alice@example.com", "real_name": "Alice Example"},
    "U0BOB": {"email": "bob@example.com", "real_name": "Bob Agent"},
}
WEBHOOKS = (
    "/slack/events",
    "/telegram/webhook",
    "/twilio/messages",
    "/x/webhook",
    "/meta/webhook",
    "/api/alerts",
)
# Calls that put something in front of a person; reads, polls and start-up checks are not.
_SENDS = re.compile(
    r"chat\.(postMessage|update|postEphemeral)|/send[A-Z]\w*$|/edit[A-Z]\w*$"
    r"|/Messages\.json$|/2/tweets$|/2/dm_conversations|/me/messages$"
)
SECRETS = (
    SLACK_SECRET,
    SLACK_TOKEN,
    TELEGRAM_SECRET,
    TOKEN,
    AUTH_TOKEN,
    WEBHOOK_SECRET,
    APP_SECRET,
    PAGE_TOKEN,
)


def all_platforms(settings: Settings, fakes: dict[str, FakeApi]) -> Settings:
    """`settings` with every channel configured against its fake."""
    slack = SlackSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=SLACK_TOKEN,
        signing_secret=SLACK_SECRET,
        api_url=fakes["slack"].api_url.rstrip("/"),  # type: ignore[attr-defined]
    )
    telegram = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        secret_token=TELEGRAM_SECRET,
        api_url=fakes["telegram"].api_url,  # type: ignore[attr-defined]
    )
    twilio = TwilioSettings(
        _env_file=None,  # type: ignore[call-arg]
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        whatsapp_from=WHATSAPP_FROM,
        api_url=fakes["twilio"].base_url,
    )
    x = XSettings(
        _env_file=None,  # type: ignore[call-arg]
        consumer_key="security-consumer-key",
        consumer_secret=WEBHOOK_SECRET,  # type: ignore[arg-type]
        access_token="1111-security-access-token",  # type: ignore[arg-type]
        access_token_secret="security-access-token-secret",  # type: ignore[arg-type]
        api_url=fakes["x"].base_url,
        poll_interval=3600.0,
        dm_poll_interval=0.0,
    )
    update: dict[str, Any] = {
        "slack": slack,
        "telegram": telegram,
        "twilio": twilio,
        "x": x,
        "public_url": PUBLIC,
    }
    if "meta" in fakes:
        update["meta"] = MetaSettings(
            _env_file=None,  # type: ignore[call-arg]
            app_secret=APP_SECRET,  # type: ignore[arg-type]
            verify_token=VERIFY_TOKEN,  # type: ignore[arg-type]
            page_token=PAGE_TOKEN,  # type: ignore[arg-type]
            api_url=fakes["meta"].api_url,  # type: ignore[attr-defined]
        )
    return settings.model_copy(update=update)


@dataclass
class Hostile:
    """The running app, its fakes, and counts of what it stored and sent."""

    client: TestClient
    fakes: dict[str, FakeApi]

    @property
    def container(self) -> Container:
        return self.client.app.state.container  # type: ignore[attr-defined,no-any-return]

    def _run(self, query: Any) -> int:
        async def go() -> int:
            async with self.container.uow() as uow:
                return int((await uow.session.execute(query)).scalar_one())

        return int(self.client.portal.call(go))  # type: ignore[union-attr]

    def inbox_rows(self) -> int:
        return self._run(select(func.count(InboxEvent.id)))

    def tickets(self) -> int:
        return self._run(select(func.count(Ticket.id)))

    def queued(self) -> int:
        async def depth() -> int:
            return int(await self.container.queue.depth())

        return int(self.client.portal.call(depth))  # type: ignore[union-attr]

    def sends(self) -> int:
        """Outbound calls that would reach a person, over every fake."""
        return sum(
            1 for fake in self.fakes.values() for c in list(fake.calls) if _SENDS.search(c.path)
        )

    def alert_integration(self, name: str = "security-monitoring") -> tuple[str, str]:
        """A monitoring integration's bearer token and signing secret, issued now."""

        async def issue() -> tuple[str, str]:
            async with self.container.uow() as uow:
                issued = await uow.integrations.issue(name, with_secret=True)
                await uow.commit()
                return issued.token, issued.secret or ""

        token, secret = self.client.portal.call(issue)  # type: ignore[union-attr]
        return str(token), str(secret)

    def wait_for_sends(self, at_least: int, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.sends() < at_least and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.sends()


@contextmanager
def hostile_app(
    settings: Settings, understander: Understander, *, worker: bool = True
) -> Iterator[Hostile]:
    """The app with every platform on, started (lifespan run) and stopped afterwards."""
    with ExitStack() as stack:
        fakes: dict[str, FakeApi] = {
            "slack": stack.enter_context(FakeSlackApi(USERS)),
            "telegram": stack.enter_context(FakeTelegramApi()),
            "twilio": stack.enter_context(FakeTwilioApi()),
            "x": stack.enter_context(FakeXApi()),
            "meta": stack.enter_context(FakeMetaApi()),
        }
        roles = ALL_ROLES if worker else frozenset({Role.WEB})
        app = create_app(
            all_platforms(settings, fakes),
            roles=roles,
            overrides=Overrides(understander=understander),
        )
        client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
        yield Hostile(client=client, fakes=fakes)


def json_bytes(data: Any) -> bytes:
    return json.dumps(data).encode()


@contextmanager
def module_database(root: Path, model_root: Path) -> Iterator[Settings]:
    """Settings on a migrated database with the demo directory, for a module's tests.

    PostgreSQL when `SWITCHBOARD_TEST_DATABASE_URL` is set (it rejects what SQLite lets
    through, such as NUL characters), else SQLite under `root`; dropped afterwards.
    """
    admin = os.environ.get(PG_ENV)
    if not admin:
        settings = make_settings(f"sqlite:///{root}/switchboard.db", model_root)
        asyncio.run(prepare_database(settings))
        yield settings
        return
    name = f"sb_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        settings = make_settings(_with_database(admin, name), model_root)
        asyncio.run(prepare_database(settings))
        yield settings
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
