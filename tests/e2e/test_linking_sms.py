"""Linking a phone number and a Telegram account to a directory person who uses the console.

The console session and the web app (Twilio and Telegram webhooks, their dispatcher) run in
one event loop on one database, as a chat user and the service would in production.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from bot.app import create_app
from bot.config import Settings
from bot.console_session import ConsoleSession
from bot.container import Overrides
from nlu.types import Understander
from tests.e2e.test_sms_webhook import PUBLIC, with_twilio
from tests.e2e.test_telegram_webhook import HEADERS, with_telegram
from tests.fakes.telegram_api import FakeTelegramApi, private_update
from tests.fakes.twilio_api import FakeTwilioApi, message_sid, sign, sms

DAN = "dan@example.com"
NUMBER = "+14155550123"
TELEGRAM_USER = 5550321


@pytest.fixture
async def web(
    any_settings: Settings,
    understander: Understander,
    twilio_fake: FakeTwilioApi,
    telegram_fake: FakeTelegramApi,
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    settings = with_telegram(with_twilio(any_settings, twilio_fake), telegram_fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://web") as client:
            yield client, settings


async def text_in(client: httpx.AsyncClient, text: str, sid: int, number: str = NUMBER) -> None:
    body = sms(text, number, message_sid(sid))
    res = await client.post(
        "/twilio/messages",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(f"{PUBLIC}/twilio/messages", body),
        },
    )
    assert res.status_code == 200, res.text


async def texts_to(fake: FakeTwilioApi, count: int, number: str = NUMBER) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        bodies = fake.bodies_to(number)
        if len(bodies) >= count:
            return bodies
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} text(s): {fake.sent()}")


async def telegram_replies(fake: FakeTelegramApi, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        posted = [m["text"] for m in fake.posted_to(TELEGRAM_USER)]
        if len(posted) >= count:
            return posted
        await asyncio.sleep(0.02)
    raise AssertionError(f"expected {count} Telegram message(s): {fake.messages}")


async def test_link_a_number_and_a_telegram_account_then_see_the_same_tickets(
    web: tuple[httpx.AsyncClient, Settings],
    understander: Understander,
    twilio_fake: FakeTwilioApi,
    telegram_fake: FakeTelegramApi,
) -> None:
    client, settings = web
    async with ConsoleSession(settings, DAN, understander=understander) as dan:
        [made] = await dan.say("my laptop screen is flickering and I cannot work")
        assert made.ticket_ref == "INC-1"

        # Before linking, the number is a stranger: Dan's ticket is not theirs to see.
        await text_in(client, "what's the status of INC-1", 1)
        [before] = await texts_to(twilio_fake, 1)
        assert "couldn't find INC-1" in before

        [asked] = await dan.say(f"link {NUMBER}")
        assert "+*******0123" in asked.text
        _, code_text = await texts_to(twilio_fake, 2)
        code = re.search(r"\b(\d{6})\b", code_text)
        assert code, code_text
        [wrong] = await dan.say("link 000000" if code.group(1) != "000000" else "link 111111")
        assert "4 tries left" in wrong.text
        [linked] = await dan.say(f"link {code.group(1)}")
        assert "Linked: the number +*******0123 now belongs to Dan Requester" in linked.text
        [reused] = await dan.say(f"link {code.group(1)}")
        assert "isn't valid" in reused.text

        await text_in(client, "show me my tickets", 2)
        *_, listing = await texts_to(twilio_fake, 3)
        assert "INC-1" in listing
        assert "Laptop" in listing or "flickering" in listing

        # The other direction: a code shown in the console, sent from Telegram.
        [shown] = await dan.say("link")
        pairing = re.search(r"link code is ([A-Z0-9]{4}-[A-Z0-9]{6})", shown.text)
        assert pairing, shown.text
        update = private_update(9001, f"/link {pairing.group(1)}", user_id=TELEGRAM_USER)
        assert (
            await client.post("/telegram/webhook", json=update, headers=HEADERS)
        ).status_code == 200
        [paired] = await telegram_replies(telegram_fake, 1)
        assert "this Telegram account now belongs to Dan Requester" in paired
        update = private_update(9002, "show me my tickets", user_id=TELEGRAM_USER)
        await client.post("/telegram/webhook", json=update, headers=HEADERS)
        _, listed = await telegram_replies(telegram_fake, 2)
        assert "INC-1" in listed

        # And a ticket raised by text shows up in the console.
        await text_in(client, "the vpn is down for the whole office, nobody can work", 3)
        *_, raised = await texts_to(twilio_fake, 4)
        assert "INC-2" in raised
        [mine] = await dan.say("show me my tickets")
        assert "INC-1" in mine.text
        assert "INC-2" in mine.text


async def test_link_a_uk_number_written_the_way_people_write_it(
    web: tuple[httpx.AsyncClient, Settings], understander: Understander, twilio_fake: FakeTwilioApi
) -> None:
    client, settings = web
    uk = "+442079460958"
    async with ConsoleSession(settings, DAN, understander=understander) as dan:
        [made] = await dan.say("my laptop screen is flickering and I cannot work")
        assert made.ticket_ref == "INC-1"
        [asked] = await dan.say("link +44 20 7946 0958")
        assert "+********0958" in asked.text
        [code_text] = await texts_to(twilio_fake, 1, uk)
        code = re.search(r"\b(\d{6})\b", code_text)
        assert code, code_text
        [linked] = await dan.say(f"link {code.group(1)}")
        assert "now belongs to Dan Requester" in linked.text

        await text_in(client, "show me my tickets", 41, uk)
        _, listing = await texts_to(twilio_fake, 2, uk)
        assert "INC-1" in listing
