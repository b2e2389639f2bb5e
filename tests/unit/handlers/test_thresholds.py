"""Threshold rules: a sustained breach fires once, recovery clears it, floods change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.rules.thresholds import (
    Change,
    Sample,
    ThresholdError,
    ThresholdWatch,
    parse_for,
    threshold,
    topic_matches,
)

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ROOM = {"ci": "server-room", "metric": "temperature", "above": 40, "for": "5m", "severity": "high"}


def reading(seconds: float, value: float, **kw: object) -> Sample:
    fields = {"value": value}
    return Sample(
        topic=str(kw.get("topic", "switchboard/events/room")),
        at=T0 + timedelta(seconds=seconds),
        ci=str(kw.get("ci", "server-room")),
        metric=str(kw.get("metric", "temperature")),
        value=value,
        fields=fields,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("30s", 30), ("1h 30m", 5400), (90, 90), ("0s", 0), (2.5, 2.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_for(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m", "-5", "1d", True, -1])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ThresholdError):
        parse_for(text)


@pytest.mark.parametrize(
    ("pattern", "topic", "matches"),
    [
        ("sensors/+/temp", "sensors/rack1/temp", True),
        ("sensors/+/temp", "sensors/rack1/humidity", False),
        ("sensors/+/temp", "sensors/a/b/temp", False),
        ("sensors/#", "sensors/a/b/temp", True),
        ("sensors/#", "sensors", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_filters(pattern: str, topic: str, matches: bool) -> None:
    assert topic_matches(pattern, topic) is matches


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"metric": "t", "above": 1}, "`ci`"),
        ({"ci": "x", "above": 1}, "`metric`"),
        ({"ci": "x", "metric": "t"}, "exactly one"),
        ({"ci": "x", "metric": "t", "above": 1, "below": 0}, "exactly one"),
        ({"ci": "x", "metric": "t", "above": "hot"}, "number"),
        ({"ci": "x", "metric": "t", "above": 1, "severity": "dire"}, "severity"),
    ],
)
def test_bad_thresholds(entry: dict[str, object], error: str) -> None:
    with pytest.raises(ThresholdError, match=error):
        threshold(entry)


def test_sustained_breach_fires_once_and_recovery_resolves() -> None:
    watch = ThresholdWatch([threshold(ROOM)])
    assert watch.observe(reading(0, 41)) == []
    assert watch.observe(reading(299, 45)) == []
    [fired] = watch.observe(reading(300, 44))
    assert fired.change is Change.FIRING
    assert fired.started_at == T0
    assert fired.ci == "server-room"
    assert fired.rule.severity == "critical"
    assert watch.observe(reading(400, 50)) == []
    [cleared] = watch.observe(reading(500, 39))
    assert cleared.change is Change.RESOLVED
    assert cleared.fingerprint == fired.fingerprint
    assert cleared.started_at == fired.started_at
    assert watch.observe(reading(600, 30)) == []


def test_a_dip_before_the_duration_starts_over() -> None:
    watch = ThresholdWatch([threshold(ROOM)])
    watch.observe(reading(0, 41))
    assert watch.observe(reading(200, 39)) == []  # a short spike never fired: no clearance
    assert watch.observe(reading(400, 41)) == []
    assert watch.observe(reading(600, 41)) == []
    [fired] = watch.observe(reading(700, 41))
    assert fired.started_at == T0 + timedelta(seconds=400)


def test_a_minute_of_a_thousand_readings_per_second_is_one_alert() -> None:
    watch = ThresholdWatch([threshold({**ROOM, "for": "30s"})])
    changes = [b for i in range(60_000) for b in watch.observe(reading(i / 1000, 42 + i % 3))]
    assert [c.change for c in changes] == [Change.FIRING]
    assert len(watch) == 1


def test_below_and_other_cis_and_metrics() -> None:
    watch = ThresholdWatch([threshold({"ci": "ups-1", "metric": "battery", "below": 20})])
    assert watch.observe(reading(0, 10, ci="ups-2", metric="battery")) == []
    assert watch.observe(reading(0, 10, ci="ups-1", metric="load")) == []
    [fired] = watch.observe(reading(0, 10, ci="UPS-1", metric="battery"))
    assert fired.change is Change.FIRING


def test_topic_threshold_reads_a_field_and_names_the_ci_it_gives() -> None:
    rule = threshold(
        {"topic": "sensors/+/temp", "field": "celsius", "above": 40, "service": "server-room"}
    )
    watch = ThresholdWatch([rule])
    sample = Sample(topic="sensors/rack1/temp", at=T0, fields={"celsius": 55.0})
    [fired] = watch.observe(sample)
    assert fired.ci == "server-room"
    assert fired.value == 55.0
    other = Sample(topic="sensors/rack1/humidity", at=T0, fields={"celsius": 55.0})
    assert watch.observe(other) == []


def test_replacing_rules_keeps_state_of_those_that_stay() -> None:
    room = threshold(ROOM)
    watch = ThresholdWatch([room])
    watch.observe(reading(0, 41))
    watch.replace_rules([room, threshold({**ROOM, "metric": "humidity", "above": 80})])
    [fired] = watch.observe(reading(300, 41))
    assert fired.rule == room
    watch.replace_rules([])
    assert len(watch) == 0
