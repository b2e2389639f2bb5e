"""T2: forged webhooks for every platform are refused and leave no trace.

At least 200 forgeries per platform: missing and repeated headers, other secrets, one-bit
flips of body and signature, re-serialised bodies, stale and future Slack timestamps,
Slack's `ssl_check` with a bad signature, Twilio signatures over another host or scheme,
Meta's `X-Hub-Signature-256` under the `sha1=` scheme or another app's secret, and monitoring
alerts with made-up bearer tokens or a signature under a secret no integration holds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from channels.alerts.verify import signature as alert_signature
from nlu.types import Understander
from tests.conftest import Scoreboard
from tests.fakes.meta_api import APP_SECRET, MESSENGER_TEXT, now_ms
from tests.fakes.meta_api import body as meta_body
from tests.fakes.meta_api import sign as meta_sign
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


def meta_forgeries() -> list[Forgery]:
    body = meta_body(MESSENGER_TEXT, text="my order never came", mid="m_forged", timestamp=now_ms())
    good = meta_sign(body)
    ctype = ("content-type", "application/json")
    header = "x-hub-signature-256"
    out: list[Forgery] = [
        ("unsigned", body, [ctype]),
        ("empty", body, [(header, ""), ctype]),
        ("repeated", body, [(header, good), (header, good), ctype]),
        ("repeated, one wrong", body, [(header, good), (header, "sha256=" + "0" * 64), ctype]),
        ("no scheme", body, [(header, good.removeprefix("sha256=")), ctype]),
        ("sha1 header", body, [("x-hub-signature", "sha1=" + "0" * 40), ctype]),
        ("sha1 scheme", body, [(header, good.replace("sha256=", "sha1=")), ctype]),
        ("upper case hex", body, [(header, "sha256=" + good[7:].upper()), ctype]),
        ("verify token", body, [(header, "sha256=test-meta-verify-token"), ctype]),
        ("re-serialised", json.dumps(json.loads(body), indent=2).encode(), [(header, good), ctype]),
    ]
    for i in range(10):
        other = meta_sign(body, f"another-app-secret-{i:02d}" + APP_SECRET[:4])
        out.append((f"other secret {i}", body, [(header, other), ctype]))
    for bit in spread(100, len(body)):
        out.append((f"body bit {bit}", flip(body, bit), [(header, good), ctype]))
    for bit in range(8 * 7, 8 * len(good)):
        if len(out) >= PER_PLATFORM + 20:
            break
        forged = flip_text(good, bit)
        if forged.strip() == good:
            continue
        out.append((f"signature bit {bit}", body, [(header, forged), ctype]))
    return out


def alerts_forgeries(token: str, secret: str) -> list[Forgery]:
    body = json.dumps(
        {
            "source": "zabbix",
            "ci": "VPN",
            "severity": "critical",
            "status": "firing",
            "fingerprint": "forged-1",
            "summary": "VPN gateway down",
        }
    ).encode()
    good = alert_signature(secret, body)
    ctype = ("content-type", "application/json")
    header = "x-switchboard-signature"
    auth = "authorization"
    out: list[Forgery] = [
        ("no credentials", body, [ctype]),
        ("empty bearer", body, [(auth, "Bearer "), ctype]),
        ("basic scheme", body, [(auth, f"Basic {token}"), ctype]),
        ("token without scheme", body, [(auth, token), ctype]),
        ("token prefix", body, [(auth, f"Bearer {token[:-1]}"), ctype]),
        ("token suffix", body, [(auth, f"Bearer {token}x"), ctype]),
        ("token upper case", body, [(auth, f"Bearer {token.upper()}"), ctype]),
        ("huge token", body, [(auth, "Bearer " + "a" * 5000), ctype]),
        ("secret as token", body, [(auth, f"Bearer {secret}"), ctype]),
        # A wrong bearer token is refused even beside a good signature: no fallback.
        ("bad token, good signature", body, [(auth, "Bearer sbi_nope"), (header, good), ctype]),
        ("empty signature", body, [(header, ""), ctype]),
        ("no scheme", body, [(header, good.removeprefix("sha256=")), ctype]),
        ("sha1 scheme", body, [(header, good.replace("sha256=", "sha1=")), ctype]),
        ("token as secret", body, [(header, alert_signature(token, body)), ctype]),
        ("re-serialised", json.dumps(json.loads(body), indent=2).encode(), [(header, good), ctype]),
    ]
    for i in range(20):
        guess = f"sbi_{i:04d}{token[4:12]}"
        out.append((f"guessed token {i}", body, [(auth, f"Bearer {guess}"), ctype]))
    for i in range(10):
        other = alert_signature(f"other-secret-{i:02d}" * 3, body)
        out.append((f"other secret {i}", body, [(header, other), ctype]))
    for bit in spread(80, len(body)):
        out.append((f"body bit {bit}", flip(body, bit), [(header, good), ctype]))
    for bit in range(8 * 7, 8 * len(good)):
        if len(out) >= PER_PLATFORM + 20:
            break
        forged = flip_text(good, bit)
        if forged.strip() == good:
            continue
        out.append((f"signature bit {bit}", body, [(header, forged), ctype]))
    return out


def _alerts(hostile: Hostile) -> list[Forgery]:
    token, secret = hostile.alert_integration()
    return alerts_forgeries(token, secret)


FORGERIES: dict[str, Callable[[Hostile], list[Forgery]]] = {
    "/slack/events": lambda _: slack_forgeries(),
    "/telegram/webhook": lambda _: telegram_forgeries(),
    "/twilio/messages": lambda _: twilio_forgeries(),
    "/x/webhook": lambda _: x_forgeries(),
    "/meta/webhook": lambda _: meta_forgeries(),
    "/api/alerts": _alerts,
}


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, model_root: Path, loaded_understander: Understander
) -> Iterator[Hostile]:
    with (
        module_database(tmp_path_factory.mktemp("forgery"), model_root) as settings,
        hostile_app(settings, loaded_understander) as h,
    ):
        yield h


@pytest.mark.parametrize("route", sorted(FORGERIES))
def test_forged_requests_leave_no_trace(
    hostile: Hostile, route: str, scoreboard: Scoreboard
) -> None:
    forgeries = FORGERIES[route](hostile)
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


def test_genuine_meta_and_alert_requests_are_taken(hostile: Hostile) -> None:
    """The routes above refuse forgeries while configured: a genuine request gets through."""
    rows = hostile.inbox_rows()
    body = meta_body(
        MESSENGER_TEXT, text="my order never came", mid="m_genuine", timestamp=now_ms()
    )
    res = hostile.client.post(
        "/meta/webhook",
        content=body,
        headers={"content-type": "application/json", "x-hub-signature-256": meta_sign(body)},
    )
    assert res.status_code == 200, res.text
    token, secret = hostile.alert_integration("security-genuine")
    alert = json.dumps({"source": "zabbix", "ci": "VPN", "status": "firing", "fingerprint": "g1"})
    res = hostile.client.post(
        "/api/alerts",
        content=alert.encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    assert res.status_code == 202, res.text
    signed = alert.replace("g1", "g2").encode()
    res = hostile.client.post(
        "/api/alerts",
        content=signed,
        headers={
            "content-type": "application/json",
            "x-switchboard-signature": alert_signature(secret, signed),
        },
    )
    assert res.status_code == 202, res.text
    assert hostile.inbox_rows() - rows == 3
