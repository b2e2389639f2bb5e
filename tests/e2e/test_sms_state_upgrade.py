"""An opt-out an older release stored among the cursors still stops every text after upgrade."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.platform_state import SqlPlatformState
from store.uow import UnitOfWork
from tests.e2e.test_sms_webhook import STRANGER, post, with_twilio
from tests.e2e.test_telegram_webhook import count, settle
from tests.fakes.twilio_api import FakeTwilioApi, message_sid, sms


@pytest.fixture
def fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


async def _cursor(settings: Settings, key: str, value: str) -> None:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            await uow.cursors.set(key, value)
            await uow.commit()
    finally:
        await engine.dispose()


async def _stored(settings: Settings, number: str) -> str | None:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        entry = await SqlPlatformState(session_factory(engine)).get("optout", "sms", number)
        return entry.value if entry is not None else None
    finally:
        await engine.dispose()


def test_an_old_opt_out_is_honoured(
    any_settings: Settings, understander: Understander, fake: FakeTwilioApi
) -> None:
    settings = with_twilio(any_settings, fake)
    asyncio.run(_cursor(settings, f"twilio.optout:sms:{STRANGER}", "1"))
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        res = post(client, sms("my laptop screen is flickering", STRANGER, message_sid(70)))
        assert res.status_code == 200
        settle(client, settings, "sms")
        assert count(client, settings, "select count(*) from tickets") == 1
        assert count(client, settings, "select count(*) from outbox where status='dead'") == 1
        assert fake.sent() == []
    assert asyncio.run(_stored(settings, STRANGER)) == "1"
