"""Alert bodies: Alertmanager and generic events parsed, credentials checked, junk refused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.alerts.parse import parse_alerts
from channels.alerts.verify import integration_for, signature
from channels.base import PayloadError, SignatureError
from channels.conversation import Alert, event_from_dict

PAYLOADS = Path(__file__).parents[2] / "data" / "payloads" / "alertmanager"


def alertmanager(status: str = "firing", **alert: Any) -> dict[str, Any]:
    item = {
        "status": status,
        "labels": {"alertname": "VPNDown", "service": "vpn", "severity": "critical"},
        "annotations": {"summary": "VPN gateway is down"},
        "startsAt": "2026-12-03T10:00:00.123456789Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "a1b2c3d4e5f60718",
    }
    item.update(alert)
    return {"version": "4", "status": status, "receiver": "switchboard", "alerts": [item]}


def test_vendored_alertmanager_payload() -> None:
    body = (PAYLOADS / "oncall_example_payload.json").read_bytes()
    [alert] = parse_alerts(body, "prometheus")
    assert alert.status == "firing"
    assert alert.source == "alertmanager"
    assert alert.summary == "This alert was sent by user for the demonstration purposes"
    assert alert.labels == {"alertname": "TestAlert", "region": "eu-1"}
    assert alert.ci == ""
    # No fingerprint in the body: one is derived from the labels, the same every time.
    assert alert.fingerprint == parse_alerts(body, "prometheus")[0].fingerprint
    assert alert.event_id.startswith(f"{alert.fingerprint}:firing:2018-12-25T15:47:47")


def test_alertmanager_fields() -> None:
    [alert] = parse_alerts(json.dumps(alertmanager()).encode(), "prometheus")
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert alert.ci == "vpn"
    assert alert.severity == "critical"
    assert alert.address.channel == "alerts"
    assert alert.address.conversation == alert.fingerprint
    assert alert.sender.external_id == "prometheus"
    assert alert.event_id == "a1b2c3d4e5f60718:firing:2026-12-03T10:00:00.123456+00:00"
    assert event_from_dict(alert.to_dict()) == alert


def test_generic_event() -> None:
    body = {
        "source": "zabbix",
        "service": "Email",
        "severity": "warning",
        "status": "resolved",
        "fingerprint": "mail-queue",
        "summary": "Mail queue is long",
        "labels": {"host": "mx1"},
        "starts_at": "2026-12-03T09:00:00+01:00",
    }
    [alert] = parse_alerts(json.dumps(body).encode(), "zabbix-prod")
    assert (alert.source, alert.ci, alert.status, alert.fingerprint) == (
        "zabbix",
        "Email",
        "resolved",
        "mail-queue",
    )
    assert alert.starts_at is not None
    assert alert.starts_at.utcoffset() is not None
    assert alert.event_id == "mail-queue:resolved:2026-12-03T08:00:00+00:00"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "4", "alerts": {}}, "`alerts`"),
        ({"version": 4, "alerts": []}, "`version`"),
        ({"version": "", "alerts": []}, "`version`"),
        (alertmanager(status="broken"), "`status`"),
        (alertmanager(labels={"a": 1}), "`alerts[0].labels.a`"),
        (alertmanager(startsAt="yesterday"), "`alerts[0].startsAt`"),
        (alertmanager(fingerprint=5), "`alerts[0].fingerprint`"),
        ({"status": "firing"}, "`fingerprint`"),
        ({"status": "on", "fingerprint": "x"}, "`status`"),
        ({"status": "firing", "fingerprint": "x", "labels": []}, "`labels`"),
        ([{"status": "firing", "fingerprint": "x", "ci": 3}], "`[0].ci`"),
        ("alert", "JSON object"),
    ],
)
def test_wrong_shapes_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(PayloadError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_alerts(json.dumps(body).encode(), "prometheus")


def test_another_webhook_version_with_version_4_shape_is_read() -> None:
    body = alertmanager()
    body["version"] = "5"
    body["alerts"][0]["newField"] = {"added": "later"}
    [alert] = parse_alerts(json.dumps(body).encode(), "prometheus")
    assert (alert.fingerprint, alert.ci, alert.status) == ("a1b2c3d4e5f60718", "vpn", "firing")


def test_another_webhook_version_of_another_shape_names_field_and_version() -> None:
    body = alertmanager()
    body["version"] = "5"
    body["alerts"][0]["labels"] = [{"name": "service", "value": "vpn"}]
    with pytest.raises(PayloadError) as raised:
        parse_alerts(json.dumps(body).encode(), "prometheus")
    assert "`alerts[0].labels`" in str(raised.value)
    assert "version '5'" in str(raised.value)


def test_not_json() -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        parse_alerts(b"{" * 100_000, "prometheus")


_leaf = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_field = st.sampled_from(
    ["status", "fingerprint", "labels", "annotations", "startsAt", "starts_at", "ci", "service"]
)
_value = st.sampled_from(["firing", "resolved", "2026-01-01T00:00:00Z", "x"]) | _leaf | _json
_alertish = st.dictionaries(_field, _value, max_size=6)


@given(
    st.one_of(
        _json,
        _alertish,
        st.lists(_alertish, max_size=3),
        st.builds(
            lambda a, v: {"version": v, "alerts": a}, st.lists(_alertish, max_size=3), _value
        ),
    )
)
@settings(deadline=None)
def test_any_json_is_alerts_or_payload_error(data: Any) -> None:
    try:
        body = json.dumps(data).encode()
    except ValueError:
        return
    try:
        alerts = parse_alerts(body, "fuzz")
    except PayloadError:
        return
    assert all(isinstance(a, Alert) and a.status in ("firing", "resolved") for a in alerts)
    assert all(len(a.event_id) <= 200 for a in alerts)


async def _tokens(token: str) -> str | None:
    return "prometheus" if token == "sbi_good" else None


async def _secrets() -> list[tuple[str, str]]:
    return [("other", "s" * 64), ("zabbix", "z" * 64)]


def _who(headers: dict[str, str], body: bytes = b"{}") -> str:
    return asyncio.run(integration_for(headers, body, tokens=_tokens, secrets=_secrets))


def test_credentials() -> None:
    assert _who({"authorization": "Bearer sbi_good"}) == "prometheus"
    body = b'{"status": "firing"}'
    assert _who({"x-switchboard-signature": signature("z" * 64, body)}, body) == "zabbix"
    for headers in (
        {},
        {"authorization": "Bearer sbi_bad"},
        {"authorization": "Basic sbi_good"},
        {"authorization": "Bearer "},
        {"x-switchboard-signature": signature("z" * 64, b"{}")},
        {"x-switchboard-signature": signature("y" * 64, body)},
        {"x-switchboard-signature": "sha1=00"},
    ):
        with pytest.raises(SignatureError):
            _who(headers, body)


def test_no_lookups_refuses_everything() -> None:
    with pytest.raises(SignatureError):
        asyncio.run(
            integration_for({"authorization": "Bearer sbi_good"}, b"{}", tokens=None, secrets=None)
        )


_SIGNED = json.dumps(alertmanager()).encode()


@given(st.integers(min_value=0, max_value=len(_SIGNED) * 8 - 1))
@settings(deadline=None)
def test_any_flipped_bit_is_refused(bit: int) -> None:
    forged = bytearray(_SIGNED)
    forged[bit // 8] ^= 1 << (bit % 8)
    headers = {"x-switchboard-signature": signature("z" * 64, _SIGNED)}
    with pytest.raises(SignatureError):
        _who(headers, bytes(forged))


def test_a_valid_token_is_trusted_briefly_an_unknown_one_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from channels.alerts import channel as module

    asked: list[str] = []

    async def lookup(token: str) -> str | None:
        asked.append(token)
        return "prometheus" if token == "sbi_good" else None

    clock = [100.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    alerts = module.AlertsChannel(tokens=lookup, secrets=None)

    async def run() -> list[str | None]:
        found = [await alerts._token("sbi_good"), await alerts._token("sbi_good")]
        found += [await alerts._token("sbi_bad"), await alerts._token("sbi_bad")]
        clock[0] += module.TOKEN_TTL + 1
        found.append(await alerts._token("sbi_good"))
        return found

    assert asyncio.run(run()) == ["prometheus", "prometheus", None, None, "prometheus"]
    assert asked == ["sbi_good", "sbi_bad", "sbi_bad", "sbi_good"]
