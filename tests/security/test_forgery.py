"""T2: forged webhooks for every platform are refused and leave no trace.

At least 200 forgeries per platform: missing and repeated headers, other secrets, one-bit
flips of body and signature, re-serialised bodies, stale and future Slack timestamps,
Slack's `ssl_check` with a bad signature, Twilio signatures over another host or scheme.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from nlu.types import Understander
from tests.conftest import Scoreboard
from tests.fakes.telegram_api import private_update
from tests.fakes.twilio_api import sign as twilio_sign
from tests.fakes.twilio_api import sms
from tests.fakes.x_api import ACCOUNT, activity_dm
from tests.fakes.x_api import sign as x_sign
from tests.security.harness import (
    PUBLIC,
    SLACK_SECRET,
    TELEGRAM_SECRET,
    Hostile,
    hostile_app,
    module_database,
)

Forgery = tuple[str, bytes, list[tuple[str, str]]]
PER_PLATFORM = 200


def flip(data: bytes, bit: int) -> bytes:
    """`data` with one bit flipped (bit index modulo its length)."""
    bit %= len(data) * 8
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def flip_text(text: str, bit: int) -> str:
    return flip(text.encode(), bit).decode("latin-1")


def spread(n: int, size: int) -> Iterator[int]:
    """`n` bit positions spread over `size` bytes."""
    total = size * 8
    return ((i * 7919) % total for i in range(n))


def slack_forgeries() -> list[Forgery]:
    body = json.dumps(
        {
            "token": "x",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "event": {
                "type": "message",
                "channel_type": "im",
                "channel": "D0ALICE",
                "user": "U0ALICE",
                "text": "the VPN is down for everyone",
                "ts": "1700000000.000100",
            },
            "type": "event_callback",
            "event_id": "Ev0FORGED",
            "event_time": 1700000000,
        }
    ).encode()
    now = int(time.time())

    def signed(b: bytes, *, at: int = now, secret: str = SLACK_SECRET) -> list[tuple[str, str]]:
        sig = SignatureVerifier(secret).generate_signature(timestamp=str(at), body=b.decode())
        return [
            ("x-slack-request-timestamp", str(at)),
            ("x-slack-signature", sig),
            ("content-type", "application/json"),
        ]

    good = signed(body)
    ts, sig, ctype = good
    out: list[Forgery] = [
        ("unsigned", body, [ctype]),
        ("no timestamp", body, [sig, ctype]),
        ("no signature", body, [ts, ctype]),
        ("repeated signature", body, [ts, sig, ("x-slack-signature", "v0=" + "0" * 64), ctype]),
        ("repeated timestamp", body, [ts, ts, sig, ctype]),
        ("v1 scheme", body, [ts, ("x-slack-signature", sig[1].replace("v0=", "v1=")), ctype]),
        ("re-serialised", json.dumps(json.loads(body), indent=1).encode(), good),
        (
            "re-serialised compact",
            json.dumps(json.loads(body), separators=(",", ":")).encode(),
            good,
        ),
        (
            "ssl_check with a bad signature",
            b"ssl_check=1&token=x",
            signed(b"something else")[:2] + [("content-type", "application/x-www-form-urlencoded")],
        ),
    ]
    for delta in (301, 302, 360, 3600, 86400):
        out.append((f"{delta} s old", body, signed(body, at=now - delta)))
    # Built before they are sent: a timestamp just past the window ahead would drift back
    # into it, so ahead starts at 330 s (the exact boundary is a unit test with a fixed clock).
    for delta in (330, 360, 3600, 86400):
        out.append((f"{delta} s ahead", body, signed(body, at=now + delta)))
    for i in range(10):
        out.append((f"other secret {i}", body, signed(body, secret=f"other-secret-{i:02d}" * 2)))
    for bit in spread(100, len(body)):
        out.append((f"body bit {bit}", flip(body, bit), good))
    for bit in range(8 * 3, 8 * len(sig[1])):
        if len(out) >= PER_PLATFORM + 20:
            break
        out.append(
            (
                f"signature bit {bit}",
                body,
                [ts, ("x-slack-signature", flip_text(sig[1], bit)), ctype],
            )
        )
    return out


def telegram_forgeries() -> list[Forgery]:
    body = json.dumps(private_update(990001, "the printer is on fire")).encode()
    ctype = ("content-type", "application/json")
    header = "x-telegram-bot-api-secret-token"
    out: list[Forgery] = [
        ("no secret", body, [ctype]),
        ("empty secret", body, [(header, ""), ctype]),
        ("repeated secret", body, [(header, TELEGRAM_SECRET), (header, TELEGRAM_SECRET), ctype]),
        ("repeated, one wrong", body, [(header, TELEGRAM_SECRET), (header, "nope"), ctype]),
        ("prefix", body, [(header, TELEGRAM_SECRET[:-1]), ctype]),
        ("suffix", body, [(header, TELEGRAM_SECRET + "x"), ctype]),
        ("upper case", body, [(header, TELEGRAM_SECRET.upper()), ctype]),
        ("bot token instead", body, [(header, "123456789"), ctype]),
    ]
    for bit in range(8 * len(TELEGRAM_SECRET)):
        forged = flip_text(TELEGRAM_SECRET, bit)
        if forged.strip() != forged or not forged.isprintable():
            forged = forged.strip() + "!"
        out.append((f"secret bit {bit}", body, [(header, forged), ctype]))
    for i in range(PER_PLATFORM - len(out) + 5):
        out.append(
            (f"other secret {i}", body, [(header, f"guess_{i:04d}_{TELEGRAM_SECRET[:8]}"), ctype])
        )
    return out


def twilio_forgeries() -> list[Forgery]:
    body = sms("my phone is broken", "+14155550123", "SM" + "f" * 32)
    url = f"{PUBLIC}/twilio/messages"
    good = twilio_sign(url, body)
    ctype = ("content-type", "application/x-www-form-urlencoded")
    header = "x-twilio-signature"
    out: list[Forgery] = [
        ("unsigned", body, [ctype]),
        ("empty", body, [(header, ""), ctype]),
        ("repeated", body, [(header, good), (header, good), ctype]),
        ("other scheme", body, [(header, twilio_sign(url.replace("https", "http"), body)), ctype]),
        (
            "other host",
            body,
            [(header, twilio_sign(url.replace("example.com", "example.org"), body)), ctype],
        ),
        ("other path", body, [(header, twilio_sign(f"{PUBLIC}/twilio/status", body)), ctype]),
        (
            "other port",
            body,
            [(header, twilio_sign(url.replace(".com", ".com:8443"), body)), ctype],
        ),
        ("with query", body, [(header, twilio_sign(url + "?x=1", body)), ctype]),
        (
            "other token",
            body,
            [(header, twilio_sign(url, body, "other-auth-token-0123456789ab")), ctype],
        ),
        ("parameter added", body + b"&Extra=1", [(header, good), ctype]),
        (
            "re-serialised",
            urlencode([("Body", "my phone is broken")]).encode(),
            [(header, good), ctype],
        ),
    ]
    for bit in spread(110, len(body)):
        out.append((f"body bit {bit}", flip(body, bit), [(header, good), ctype]))
    for bit in range(8 * len(good)):
        if len(out) >= PER_PLATFORM + 20:
            break
        forged = flip_text(good, bit)
        if forged.strip() == good.strip():
            continue
        out.append((f"signature bit {bit}", body, [(header, forged), ctype]))
    return out


def x_forgeries() -> list[Forgery]:
    body = activity_dm(
        "my account is locked",
        sender_id="3001969357",
        screen_name="someone",
        for_user_id=ACCOUNT["id"],
        event_id="1700000000000000001",
    )
    good = x_sign(body)
    ctype = ("content-type", "application/json")
    header = "x-twitter-webhooks-signature"
    out: list[Forgery] = [
        ("unsigned", body, [ctype]),
        ("empty", body, [(header, ""), ctype]),
        ("repeated", body, [(header, good), (header, good), ctype]),
        ("no scheme", body, [(header, good.removeprefix("sha256=")), ctype]),
        ("other secret", body, [(header, x_sign(body, "another-consumer-secret")), ctype]),
        ("re-serialised", json.dumps(json.loads(body), indent=2).encode(), [(header, good), ctype]),
    ]
    for bit in spread(110, len(body)):
        out.append((f"body bit {bit}", flip(body, bit), [(header, good), ctype]))
    for bit in range(8 * 7, 8 * len(good)):
        if len(out) >= PER_PLATFORM + 20:
            break
        forged = flip_text(good, bit)
        if forged.strip() == good:
            continue
        out.append((f"signature bit {bit}", body, [(header, forged), ctype]))
    return out


FORGERIES = {
    "/slack/events": slack_forgeries,
    "/telegram/webhook": telegram_forgeries,
    "/twilio/messages": twilio_forgeries,
    "/x/webhook": x_forgeries,
}


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, model_root: Path, understander: Understander
) -> Iterator[Hostile]:
    with (
        module_database(tmp_path_factory.mktemp("forgery"), model_root) as settings,
        hostile_app(settings, understander) as h,
    ):
        yield h


@pytest.mark.parametrize("route", sorted(FORGERIES))
def test_forged_requests_leave_no_trace(
    hostile: Hostile, route: str, scoreboard: Scoreboard
) -> None:
    forgeries = FORGERIES[route]()
    assert len(forgeries) >= PER_PLATFORM
    sends_before = hostile.sends()
    rows_before = hostile.inbox_rows()
    accepted: list[str] = []
    server_errors: list[str] = []
    for name, body, headers in forgeries:
        raw_headers = [(k.encode(), v.encode("latin-1")) for k, v in headers]
        res = hostile.client.post(route, content=body, headers=raw_headers)
        if res.status_code < 400:
            accepted.append(f"{name}: {res.status_code}")
        if res.status_code >= 500:
            server_errors.append(f"{name}: {res.status_code}")
    # A valid request afterwards proves the pipeline was live and would have sent.
    stored = hostile.inbox_rows() - rows_before
    queued = hostile.queued()
    sent = hostile.sends() - sends_before
    scoreboard.record("forged accepted", probes=len(forgeries), failures=len(accepted) + stored)
    scoreboard.record("5xx", probes=len(forgeries), failures=len(server_errors))
    assert accepted == []
    assert server_errors == []
    assert stored == 0
    assert queued == 0
    assert sent == 0
