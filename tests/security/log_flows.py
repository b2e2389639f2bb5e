"""Representative flows on every platform with logging at DEBUG, for the T16 log check.

Run as `python -m tests.security.log_flows DATABASE_URL MODEL_ROOT` (a fresh process, so
logging is configured before any logger is used, as `switchboard web` does). Logs go to
stderr; the last line on stdout is JSON naming the one-time values the flows produced
(link codes, the API token), which the caller then looks for in the logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

from bot.logging import configure
from tests.fakes.telegram_api import private_update
from tests.fakes.twilio_api import sms
from tests.fakes.x_api import ACCOUNT, activity_dm, signed_headers
from tests.security.harness import (
    SLACK_SECRET,
    TELEGRAM_SECRET,
    Hostile,
    hostile_app,
)

# Full numbers the flows put in front of the app; only their last four digits may be logged.
NUMBERS = ("+14155550177", "+447700900123", "+14155550123", "+14155550188")
SLACK_DM = {
    "token": "x",
    "team_id": "T111",
    "api_app_id": "A0001",
    "type": "event_callback",
    "event_time": 1762000000,
    "authorizations": [{"team_id": "T111", "user_id": "U0BOT", "is_bot": True}],
}


def slack(h: Hostile, text: str, n: int, *, secret: str = SLACK_SECRET) -> int:
    import hashlib
    import hmac

    body = dict(SLACK_DM)
    ts = f"1762000{n:03d}.000200"
    body["event"] = {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "text": text,
        "ts": ts,
        "event_ts": ts,
    }
    body["event_id"] = f"Ev0LOG{n}"
    raw = json.dumps(body).encode()
    now = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + now.encode() + b":" + raw, hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "x-slack-request-timestamp": now,
        "x-slack-signature": "v0=" + mac.hexdigest(),
    }
    return h.client.post("/slack/events", content=raw, headers=headers).status_code


def telegram(h: Hostile, text: str, n: int, *, secret: str = TELEGRAM_SECRET) -> int:
    update = private_update(660000 + n, text, user_id=777000 + n % 2)
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
    return h.client.post("/telegram/webhook", json=update, headers=headers).status_code


def twilio(h: Hostile, text: str, sender: str, n: int) -> int:
    from tests.fakes.twilio_api import sign

    body = sms(text, sender, f"SM{n:032d}")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign("https://switchboard.example.com/twilio/messages", body),
    }
    return h.client.post("/twilio/messages", content=body, headers=headers).status_code


def sent_texts(h: Hostile) -> list[str]:
    from urllib.parse import unquote_plus

    texts = []
    for fake in h.fakes.values():
        for call in list(fake.calls):
            texts.append(unquote_plus(call.body.decode("utf-8", "replace")))
    return texts


def wait_for(h: Hostile, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        for text in sent_texts(h):
            found = regex.search(text)
            if found:
                return found
        time.sleep(0.1)
    raise AssertionError(f"nothing matching {pattern!r} was sent")


def flows(h: Hostile) -> dict[str, Any]:
    codes: list[str] = []
    chat = {"X-Webchat-Token": h.client.post("/webchat/session").json()["token"]}
    h.client.post(
        "/webchat/messages",
        json={"id": "log-1", "text": f"VPN down for everyone, call me on {NUMBERS[0]}"},
        headers=chat,
    )
    telegram(h, f"my laptop will not boot, my number is {NUMBERS[1]}", 1)
    twilio(h, "the printer is jammed again", NUMBERS[2], 1)
    slack(h, "restart the mail server on Saturday 22:00", 1)
    body = activity_dm(
        "my account is locked",
        sender_id="3001969357",
        screen_name="someone",
        for_user_id=ACCOUNT["id"],
        event_id="1700000000000000077",
    )
    h.client.post("/x/webhook", content=body, headers=signed_headers(body))
    h.client.get("/x/webhook", params={"crc_token": "challenge-123"})
    # Link a number by text message, then a Telegram account by pairing code.
    slack(h, f"link {NUMBERS[3]}", 2)
    code = wait_for(h, r"Your Switchboard code is (\d{6})").group(1)
    codes.append(code)
    slack(h, "link 000000" if code != "000000" else "link 111111", 3)
    slack(h, f"link {code}", 4)
    slack(h, "link", 5)
    pairing = wait_for(h, r"link code is ([A-Z0-9]{4}-[A-Z0-9]{6})").group(1)
    codes += [pairing, pairing.replace("-", "")]
    telegram(h, f"/link {pairing}", 2)
    # The REST API with a token, and forged requests.
    token = h.client.post("/webchat/session").json()["token"]
    api_token = _issue_token(h, "bob@example.com")
    h.client.get("/api/tickets", headers={"Authorization": f"Bearer {api_token}"})
    h.client.get("/api/tickets", headers={"Authorization": "Bearer sb_forged_000000000000000000"})
    slack(h, "forged", 6, secret="not-the-secret-0123456789")
    telegram(h, "forged", 3, secret="not-the-secret")
    h.wait_for_sends(8)
    time.sleep(1.0)  # the last sends' log lines
    return {"codes": codes, "secrets": [api_token, token.split(".")[-1]]}


def _issue_token(h: Hostile, email: str) -> str:
    async def go() -> str:
        async with h.container.uow() as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            issued = await uow.tokens.issue(person, "log check")
            await uow.commit()
            return issued.token

    return str(h.client.portal.call(go))  # type: ignore[union-attr]


def main() -> None:
    configure("DEBUG", "json")
    # The SDKs are kept above DEBUG now; this record shows DEBUG records still reach the output.
    logging.getLogger("bot").debug("log_flows.started")
    database_url, model_root = sys.argv[1], Path(sys.argv[2])
    from nlu.pipeline import load
    from tests.conftest import make_settings

    settings = make_settings(database_url, model_root, log_level="DEBUG", log_format="json")
    with hostile_app(settings, load(model_root)) as h:
        found = flows(h)
    sys.stdout.write(json.dumps(found) + "\n")


if __name__ == "__main__":
    main()
