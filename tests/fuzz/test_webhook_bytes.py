"""Raw bytes at every webhook, signed (a valid signature over the fuzzed bytes) and unsigned.

Whatever arrives, the answer is never a 5xx, and nothing unsigned is ever stored. Bodies
are random bytes, random JSON, and recorded payloads with one value replaced or a few
bytes spliced in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from channels.alerts.verify import signature as alert_signature
from channels.twilio.verify import Form
from nlu.types import Understander
from tests.conftest import Scoreboard
from tests.fakes.meta_api import INSTAGRAM_TEXT
from tests.fakes.meta_api import body as meta_body
from tests.fakes.meta_api import sign as meta_sign
from tests.fakes.telegram_api import private_update
from tests.fakes.twilio_api import AUTH_TOKEN, sms
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

# Each example is an HTTP request through the app and a database count: a few hundred per
# route and signing keep the whole file within a couple of minutes, even under the fuzz profile.
EXAMPLES = 150
HTTP = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SLACK_EVENT = {
    "token": "x",
    "team_id": "T0001",
    "api_app_id": "A0001",
    "event": {
        "type": "message",
        "channel_type": "im",
        "channel": "D0ALICE",
        "user": "U0ALICE",
        "text": "the VPN is down",
        "ts": "1700000000.000100",
    },
    "type": "event_callback",
    "event_id": "Ev0FUZZ",
    "event_time": 1700000000,
}
SAMPLES: dict[str, bytes] = {
    "/slack/events": json.dumps(SLACK_EVENT).encode(),
    "/telegram/webhook": json.dumps(private_update(880001, "printer jammed")).encode(),
    "/twilio/messages": sms("my phone is broken", "+14155550123", "SM" + "e" * 32),
    "/x/webhook": activity_dm(
        "locked out",
        sender_id="3001969357",
        screen_name="someone",
        for_user_id=ACCOUNT["id"],
        event_id="1700000000000000009",
    ),
    "/webchat/messages": b'{"id": "fuzz", "text": "hello"}',
    "/meta/webhook": meta_body(INSTAGRAM_TEXT, text="my parcel is lost", mid="m_fuzz"),
    "/api/alerts": json.dumps(
        {
            "source": "zabbix",
            "ci": "VPN",
            "severity": "warning",
            "status": "firing",
            "fingerprint": "fuzz-1",
            "summary": "VPN latency high",
            "labels": {"instance": "vpn-gw-1"},
            "starts_at": "2026-12-03T09:00:00Z",
        }
    ).encode(),
}
CONTENT_TYPES = {
    "/slack/events": "application/json",
    "/telegram/webhook": "application/json",
    "/twilio/messages": "application/x-www-form-urlencoded",
    "/x/webhook": "application/json",
    "/webchat/messages": "application/json",
    "/meta/webhook": "application/json",
    "/api/alerts": "application/json",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _replace(doc: Any, path: tuple[Any, ...], new: Any) -> Any:
    doc = json.loads(json.dumps(doc))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return doc


@st.composite
def bodies(draw: st.DrawFn, route: str) -> bytes:
    sample = SAMPLES[route]
    kind = draw(st.sampled_from(["bytes", "json", "field", "splice"]))
    if kind == "bytes":
        return draw(st.binary(max_size=2048))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "field" and sample.lstrip()[:1] == b"{":
        doc = json.loads(sample)
        path = draw(st.sampled_from(list(_paths(doc))))
        return json.dumps(_replace(doc, path, draw(json_values))).encode()
    at = draw(st.integers(0, len(sample)))
    cut = draw(st.integers(0, 8))
    return sample[:at] + draw(st.binary(max_size=16)) + sample[at + cut :]


def signature_headers(
    route: str, body: bytes, token: str, alert_secret: str = ""
) -> dict[str, str]:
    if route == "/slack/events":
        ts = str(int(time.time()))
        mac = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
        return {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + mac.hexdigest()}
    if route == "/telegram/webhook":
        return {"x-telegram-bot-api-secret-token": TELEGRAM_SECRET}
    if route == "/twilio/messages":
        form = Form.parse(body)
        return {
            "x-twilio-signature": RequestValidator(AUTH_TOKEN).compute_signature(
                f"{PUBLIC}/twilio/messages", form
            )
        }
    if route == "/x/webhook":
        return {"x-twitter-webhooks-signature": x_sign(body)}
    if route == "/meta/webhook":
        return {"x-hub-signature-256": meta_sign(body)}
    if route == "/api/alerts":
        return {"x-switchboard-signature": alert_signature(alert_secret, body)}
    return {"x-webchat-token": token}


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, model_root: Path, loaded_understander: Understander
) -> Iterator[Hostile]:
    with (
        module_database(tmp_path_factory.mktemp("fuzz"), model_root) as s,
        hostile_app(s, loaded_understander, worker=False) as h,
    ):
        yield h


@pytest.fixture(scope="module")
def webchat_token(hostile: Hostile) -> str:
    return str(hostile.client.post("/webchat/session").json()["token"])


@pytest.fixture(scope="module")
def alert_secret(hostile: Hostile) -> str:
    return hostile.alert_integration("fuzz-monitoring")[1]


def _fuzz(
    hostile: Hostile, scoreboard: Scoreboard, route: str, body: bytes, headers: dict[str, str]
) -> int:
    res = hostile.client.post(route, content=body, headers=headers)
    scoreboard.record("5xx", probes=1, failures=int(res.status_code >= 500))
    assert res.status_code < 500, (res.status_code, res.text[:300], body[:200])
    return res.status_code


CASES = [(route, signed) for route in sorted(SAMPLES) for signed in (True, False)]


@pytest.mark.parametrize(("route", "signed"), CASES)
def test_webhooks_never_answer_5xx(
    hostile: Hostile,
    webchat_token: str,
    alert_secret: str,
    scoreboard: Scoreboard,
    route: str,
    signed: bool,
) -> None:
    board = scoreboard

    @HTTP
    @given(body=bodies(route), ctype=st.sampled_from([CONTENT_TYPES[route], "text/plain", ""]))
    def check(body: bytes, ctype: str) -> None:
        headers = {"content-type": ctype} if ctype else {}
        if signed:
            headers |= signature_headers(route, body, webchat_token, alert_secret)
        before = hostile.inbox_rows()
        status = _fuzz(hostile, board, route, body, headers)
        if not signed:
            stored = hostile.inbox_rows() - before
            board.record("forged accepted", probes=1, failures=stored + int(status < 300))
            assert stored == 0
            assert status >= 400

    check()


@pytest.mark.parametrize(
    "field",
    [
        "type",
        "channel",
        "user",
        "text",
        "ts",
    ],
)
def test_signed_slack_events_of_the_wrong_shape_are_4xx(hostile: Hostile, field: str) -> None:
    doc = json.loads(SAMPLES["/slack/events"])
    doc["event"][field] = []
    body = json.dumps(doc).encode()
    headers = {"content-type": "application/json"}
    headers |= signature_headers("/slack/events", body, "")
    res = hostile.client.post("/slack/events", content=body, headers=headers)
    assert res.status_code < 500
