"""MQTT messages: events, readings and junk; the subscriber quarantines junk and carries on."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.factories.mqtt import THRESHOLDS_KEY, ThresholdJudge, rules_from
from channels.base import ConfigurationError, IngestOutcome, MemoryCursors, PayloadError
from channels.conversation import Alert, Event
from channels.mqtt.channel import MqttChannel, broker, topic_filters
from channels.mqtt.parse import Reading, parse_message

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_event_message_is_an_alert() -> None:
    body = {
        "source": "plc",
        "ci": "conveyor-3",
        "severity": "critical",
        "status": "firing",
        "fingerprint": "plc-conv3-stop",
        "summary": "Conveyor 3 stopped",
    }
    alert = parse_message("switchboard/events/plc", json.dumps(body).encode(), NOW)
    assert isinstance(alert, Alert)
    assert (alert.ci, alert.fingerprint, alert.sender.external_id) == (
        "conveyor-3",
        "plc-conv3-stop",
        "mqtt",
    )


def test_reading_message() -> None:
    body = {"ci": "server-room", "metric": "temperature", "value": 41.5, "at": 1796299200}
    reading = parse_message("t/room", json.dumps(body).encode(), NOW)
    assert isinstance(reading, Reading)
    assert (reading.ci, reading.metric, reading.value) == ("server-room", "temperature", 41.5)
    assert reading.at == datetime.fromtimestamp(1796299200, UTC)
    bare = parse_message("sensors/r1/temp", b'{"celsius": 40, "ok": true}', NOW)
    assert isinstance(bare, Reading)
    assert bare.fields == {"celsius": 40.0}
    assert bare.at == NOW


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"ci": "x", "value": "hot"}', "`value`"),
        (b'{"ci": "x", "state": "on"}', "no reading"),
        (b'{"value": 1, "at": "yesterday"}', "`at`"),
        (b'{"value": 1, "ci": 5}', "`ci`"),
        (b'{"status": "firing", "fingerprint": 3}', "`fingerprint`"),
        (b"x" * 70_000, "larger"),
    ],
)
def test_junk_is_a_payload_error(payload: bytes, error: str) -> None:
    with pytest.raises(PayloadError, match=error):
        parse_message("t", payload, NOW)


def test_broker_urls() -> None:
    assert broker("mqtt://127.0.0.1:1883") == ("127.0.0.1", 1883, None, None, False)
    assert broker("mqtts://u:p%40ss@broker.example") == ("broker.example", 8883, "u", "p@ss", True)
    with pytest.raises(ConfigurationError):
        broker("http://127.0.0.1:1883")
    assert topic_filters(" a/#, b/+/c ,") == ["a/#", "b/+/c"]
    with pytest.raises(ConfigurationError):
        topic_filters(" , ")


def test_judge_turns_readings_into_one_alert_and_a_clearance() -> None:
    async def run() -> list[Alert]:
        cursors = MemoryCursors()
        rules = [{"ci": "server-room", "metric": "temperature", "above": 40, "for": "1m"}]
        await cursors.set(THRESHOLDS_KEY, json.dumps(rules))
        judge = ThresholdJudge(cursors)
        out: list[Alert] = []
        for second, value in [(0, 41), (30, 42), (60, 43), (90, 44), (120, 35)]:
            reading = Reading(
                topic="t",
                at=NOW + timedelta(seconds=second),
                ci="server-room",
                metric="temperature",
                value=value,
            )
            out += await judge(reading)
        return out

    fired, cleared = asyncio.run(run())
    assert (fired.status, cleared.status) == ("firing", "resolved")
    assert fired.fingerprint == cleared.fingerprint
    assert fired.ci == "server-room"
    assert fired.summary == "server-room: temperature above 40 for 1m (now 43)"
    assert fired.event_id != cleared.event_id


def test_stored_rules_that_no_longer_read_are_skipped() -> None:
    raw = json.dumps([{"ci": "a", "metric": "m", "above": 1}, {"ci": "b"}, "junk"])
    assert [r.ci for r in rules_from(raw)] == ["a"]
    assert rules_from("not json") == []


def test_handle_quarantines_junk_and_keeps_alerts_the_inbox_refused_for_later() -> None:
    async def judge(reading: Reading) -> list[Alert]:
        return []

    seen: list[tuple[str, str]] = []
    channel = MqttChannel(
        url="mqtt://127.0.0.1:1",
        topics=["a/#"],
        judge=judge,
        quarantine=lambda topic, reason: seen.append((topic, reason)),
    )
    ingested: list[Event] = []
    down = True

    async def ingest(event: Event) -> IngestOutcome:
        if down:
            raise ConnectionError("database away")
        ingested.append(event)
        return IngestOutcome.ACCEPTED

    event = json.dumps({"status": "firing", "fingerprint": "f1", "ci": "x"}).encode()

    async def run() -> None:
        nonlocal down
        await channel.handle("a/1", b"not json", ingest)
        await channel.handle("a/1", event, ingest)
        down = False
        await channel.handle("a/1", b'{"value": 1}', ingest)

    asyncio.run(run())
    assert channel.quarantined == 1
    assert seen == [("a/1", "message is not JSON")]
    assert channel.kept[0][2] == b"not json"
    assert [e.event_id.split(":")[0] for e in ingested] == ["f1"]


def test_an_alert_the_inbox_refused_is_retried_without_waiting_for_a_message() -> None:
    async def judge(reading: Reading) -> list[Alert]:
        return []

    channel = MqttChannel(url="mqtt://127.0.0.1:1", topics=["a/#"], judge=judge, retry_seconds=0)
    ingested: list[Event] = []
    down = True

    async def ingest(event: Event) -> IngestOutcome:
        if down:
            raise ConnectionError("database away")
        ingested.append(event)
        return IngestOutcome.ACCEPTED

    event = json.dumps({"status": "firing", "fingerprint": "f2", "ci": "x"}).encode()

    async def run() -> None:
        nonlocal down
        await channel.handle("a/1", event, ingest)
        assert ingested == []
        down = False
        retrying = asyncio.ensure_future(channel.retry_unsent(ingest))
        for _ in range(100):
            if ingested:
                break
            await asyncio.sleep(0)
        retrying.cancel()

    asyncio.run(run())
    assert [e.event_id.split(":")[0] for e in ingested] == ["f2"]


_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
_keys = st.sampled_from(["ci", "service", "metric", "value", "at", "status", "fingerprint"])
_messageish = st.dictionaries(_keys, _leaf | _json, max_size=6)


@given(st.one_of(st.binary(max_size=200), _json.map(json.dumps), _messageish.map(json.dumps)))
@settings(deadline=None)
def test_any_payload_is_an_event_a_reading_or_a_payload_error(payload: bytes | str) -> None:
    body = payload.encode() if isinstance(payload, str) else payload
    try:
        item = parse_message("t/x", body, NOW)
    except PayloadError:
        return
    if isinstance(item, Reading):
        assert item.fields
        assert item.at.tzinfo is not None
    else:
        assert item.status in ("firing", "resolved")
