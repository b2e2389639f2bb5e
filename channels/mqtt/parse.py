"""MQTT messages into events: a generic alert event, or a device reading.

An event has the shape `POST /api/alerts` takes (`status` and `fingerprint` among its fields)
and becomes an `Alert` as it is. Anything else that is a JSON object is a reading: `ci` (or
`service`), `metric`, `value`, `at` (RFC 3339 or Unix seconds), plus any other numeric
top-level fields, which thresholds that watch a topic may name. What is neither is a
`PayloadError`, and the subscriber quarantines it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.alerts.parse import generic_event, make_alert
from channels.base import PayloadError
from channels.conversation import Alert

PLATFORM = "mqtt"
INTEGRATION = "mqtt"
MAX_PAYLOAD = 64 * 1024
MAX_FIELDS = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One measurement from a device."""

    topic: str
    at: datetime
    ci: str = ""
    metric: str = ""
    value: float | None = None
    fields: Mapping[str, float] = field(default_factory=dict)


def _fail(message: str) -> PayloadError:
    return PayloadError(message, platform=PLATFORM)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _at(value: Any, received: datetime) -> datetime:
    if value is None or value == "":
        return received
    number = _number(value)
    try:
        if number is not None:
            return datetime.fromtimestamp(number, UTC)
        if isinstance(value, str) and len(value) <= 64:
            parsed = datetime.fromisoformat(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError, OSError) as e:
        raise _fail("`at` must be an RFC 3339 timestamp or Unix seconds") from e
    raise _fail("`at` must be an RFC 3339 timestamp or Unix seconds")


def _name(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise _fail(f"`{what}` must be a string of at most 200 characters")
    return value.strip()


def parse_message(topic: str, payload: bytes, received: datetime) -> Alert | Reading:
    """What one MQTT message says; `PayloadError` for anything that is neither shape."""
    if len(payload) > MAX_PAYLOAD:
        raise _fail(f"message is larger than {MAX_PAYLOAD} bytes")
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _fail("message is not JSON") from e
    if not isinstance(data, dict):
        raise _fail("message must be a JSON object")
    if "status" in data and "fingerprint" in data:
        return generic_event(data, INTEGRATION)
    value = data.get("value")
    number = _number(value)
    if value is not None and number is None:
        raise _fail("`value` must be a finite number")
    fields = {
        str(k)[:80]: n for k, v in data.items() if (n := _number(v)) is not None and k != "at"
    }
    if len(fields) > MAX_FIELDS:
        raise _fail(f"a reading has at most {MAX_FIELDS} numeric fields")
    if not fields:
        raise _fail("no reading in the message: `value` or another numeric field is needed")
    return Reading(
        topic=topic,
        at=_at(data.get("at"), received),
        ci=_name(data.get("ci"), "ci") or _name(data.get("service"), "service"),
        metric=_name(data.get("metric"), "metric"),
        value=number,
        fields=fields,
    )


def threshold_alert(
    *,
    fingerprint: str,
    status: str,
    ci: str,
    severity: str,
    summary: str,
    started_at: datetime,
    labels: dict[str, str],
) -> Alert:
    """The alert for a threshold crossed (`firing`) or back within limits (`resolved`)."""
    return make_alert(
        integration=INTEGRATION,
        source="mqtt",
        fingerprint=fingerprint,
        status=status,
        ci=ci,
        severity=severity,
        summary=summary,
        labels=labels,
        starts_at=started_at,
    )
