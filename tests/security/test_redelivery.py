"""Deliveries repeated by every platform: stored once, one ticket, one reply, none lost.

Each platform delivers the same report five times (Slack also with its retry headers),
then a greeting; once the greeting's reply has arrived, the earlier repeats have had their
turn, and each conversation holds exactly one ticket and two replies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import pytest

from bot.config import Settings
from nlu.types import Understander
from tests.conftest import Scoreboard
from tests.fakes.telegram_api import private_update
from tests.fakes.twilio_api import sign as twilio_sign
from tests.fakes.twilio_api import sms
from tests.fakes.x_api import ACCOUNT, activity_dm, signed_headers
from tests.security.harness import (
    _SENDS,
    PUBLIC,
    SLACK_SECRET,
    TELEGRAM_SECRET,
    Hostile,
    hostile_app,
)

REPEATS = 5
REPORT = "my laptop screen is flickering since this morning"
GREETING = "hello"


@pytest.fixture
def hostile(demo_settings: Settings, understander: Understander) -> Iterator[Hostile]:
    with hostile_app(demo_settings, understander) as h:
        yield h


def slack(h: Hostile, text: str, event_id: str, retry: int | None) -> int:
    ts = f"17620{abs(hash(event_id)) % 10**5:05d}.000200"
    body = json.dumps(
        {
            "token": "x",
            "team_id": "T111",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1762000000,
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": "D0ALICE",
                "user": "U0ALICE",
                "text": text,
                "ts": ts,
                "event_ts": ts,
            },
        }
    ).encode()
    now = str(int(time.time()))
    mac = hmac.new(SLACK_SECRET.encode(), b"v0:" + now.encode() + b":" + body, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": now,
        "x-slack-signature": "v0=" + mac.hexdigest(),
    }
    if retry:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    return h.client.post("/slack/events", content=body, headers=headers).status_code


def telegram(h: Hostile, text: str, update_id: int) -> int:
    update = private_update(update_id, text, user_id=5550999)
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    return h.client.post("/telegram/webhook", json=update, headers=headers).status_code


def twilio(h: Hostile, text: str, sid: str) -> int:
    body = sms(text, "+14155550124", sid)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_sign(f"{PUBLIC}/twilio/messages", body),
    }
    return h.client.post("/twilio/messages", content=body, headers=headers).status_code


def x(h: Hostile, text: str, event_id: str) -> int:
    body = activity_dm(
        text,
        sender_id="3001969357",
        screen_name="someone",
        for_user_id=ACCOUNT["id"],
        event_id=event_id,
    )
    return h.client.post("/x/webhook", content=body, headers=signed_headers(body)).status_code


PLATFORMS: dict[str, Callable[[Hostile, str, int, int | None], int]] = {
    "slack": lambda h, text, n, retry: slack(h, text, f"Ev0REDELIVER{n}", retry),
    "telegram": lambda h, text, n, retry: telegram(h, text, 440000 + n),
    "twilio": lambda h, text, n, retry: twilio(h, text, f"SM{n:032d}"),
    "x": lambda h, text, n, retry: x(h, text, f"17000000000000{n:05d}"),
}


def sends_to(h: Hostile, platform: str) -> int:
    return sum(1 for c in list(h.fakes[platform].calls) if _SENDS.search(c.path))


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
def test_a_repeated_delivery_is_one_ticket_and_one_reply(
    hostile: Hostile, platform: str, scoreboard: Scoreboard
) -> None:
    deliver = PLATFORMS[platform]
    tickets_before = hostile.tickets()
    codes = [deliver(hostile, REPORT, 1, retry or None) for retry in range(REPEATS)]
    codes.append(deliver(hostile, GREETING, 2, None))
    assert all(c < 300 for c in codes), codes
    deadline = time.monotonic() + 60
    while sends_to(hostile, platform) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    replies = sends_to(hostile, platform)
    tickets = hostile.tickets() - tickets_before
    scoreboard.record("lost", probes=2, failures=max(0, 1 - tickets) + max(0, 2 - replies))
    scoreboard.record("duplicate tickets", probes=REPEATS, failures=max(0, tickets - 1))
    scoreboard.record("duplicate sends", probes=REPEATS + 1, failures=max(0, replies - 2))
    assert (tickets, replies) == (1, 2)
