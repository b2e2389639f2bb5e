"""Alert bodies into `Alert` events: Alertmanager's webhook (version 4) and a generic event.

Alertmanager posts one notification per alert group:
`{"version": "4", "status", "receiver", "groupKey", "alerts": [{"status", "labels",
"annotations", "startsAt", "endsAt", "fingerprint", ...}], ...}`. The generic event is one
object (or a list of them): `{"source", "ci" | "service", "severity", "status",
"fingerprint", "summary", "labels", "starts_at"}`. Anything else is a `PayloadError` that
names the field at fault. A webhook `version` other than "4" is accepted when the body has
version 4's shape (so an Alertmanager upgrade that only adds fields keeps working); when it
does not, the error names both the field and the version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.base import PayloadError
from channels.conversation import Address, Alert, Identity

PLATFORM = "alerts"
WEBHOOK_VERSION = "4"
"""The Alertmanager webhook format read field by field; other versions are read by shape."""
STATUSES = ("firing", "resolved")
MAX_ALERTS = 500
MAX_LABELS = 100
MAX_FINGERPRINT = 120
MAX_VALUE = 1000
CI_LABELS = ("ci", "service", "instance")


def _fail(message: str) -> PayloadError:
    return PayloadError(message, platform=PLATFORM)


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"`{name}` must be a JSON object")
    return value


def _text(value: Any, name: str, *, limit: int = MAX_VALUE, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(
            f"`{name}` must be a non-empty string" if required else f"`{name}` must be a string"
        )
    if len(value) > limit:
        raise _fail(f"`{name}` is longer than {limit} characters")
    return value


def _labels(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    found = _object(value, name)
    if len(found) > MAX_LABELS:
        raise _fail(f"`{name}` has more than {MAX_LABELS} entries")
    return {str(k)[:200]: _text(v, f"{name}.{k}") for k, v in found.items()}


def _status(value: Any, name: str) -> str:
    if value not in STATUSES:
        raise _fail(f"`{name}` must be `firing` or `resolved`")
    return str(value)


def _time(value: Any, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise _fail(f"`{name}` must be an RFC 3339 timestamp")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise _fail(f"`{name}` must be an RFC 3339 timestamp") from e


def _fingerprint(value: Any, name: str, labels: Mapping[str, str]) -> str:
    if value is None or value == "":
        # Alertmanager's own fingerprint is a hash of the label set; without one, so is ours.
        canonical = json.dumps(sorted(labels.items()), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return _text(value, name, limit=MAX_FINGERPRINT, required=True).strip()


def _ci(labels: Mapping[str, str]) -> str:
    for key in CI_LABELS:
        if labels.get(key, "").strip():
            return labels[key].strip()
    return ""


def make_alert(
    *,
    integration: str,
    source: str,
    fingerprint: str,
    status: str,
    ci: str,
    severity: str,
    summary: str,
    labels: dict[str, str],
    starts_at: datetime | None,
) -> Alert:
    """An `Alert` from checked values; its event id names one notification of one state."""
    started = starts_at.isoformat() if starts_at else ""
    return Alert(
        # One notification of one problem's state: repeats of it are recognised as such.
        event_id=f"{fingerprint}:{status}:{started}",
        address=Address(channel=PLATFORM, conversation=fingerprint, user=integration),
        sender=Identity(
            platform=PLATFORM, external_id=integration, display_name=f"Monitoring ({integration})"
        ),
        source=source or integration,
        fingerprint=fingerprint,
        status=status,
        ci=ci,
        severity=severity.strip().lower(),
        summary=summary.strip(),
        labels=labels,
        starts_at=starts_at,
        received_at=datetime.now(UTC),
    )


def _alertmanager(data: Mapping[str, Any], integration: str) -> list[Alert]:
    version = data.get("version", WEBHOOK_VERSION)
    if not isinstance(version, str) or not version.strip() or len(version) > 20:
        raise _fail('`version` must be a string such as "4" (the Alertmanager webhook format)')
    if version == WEBHOOK_VERSION:
        return _alertmanager_alerts(data, integration)
    # Alertmanager has only ever added fields within a version; a body of another version
    # that still has version 4's shape is read as such, and one that does not is refused
    # with the field at fault and the version it came with.
    try:
        return _alertmanager_alerts(data, integration)
    except PayloadError as e:
        raise _fail(
            f"{e} (webhook version {version[:20]!r}; fields are read as in version "
            f"{WEBHOOK_VERSION})"
        ) from e


def _alertmanager_alerts(data: Mapping[str, Any], integration: str) -> list[Alert]:
    group_status = data.get("status")
    if group_status is not None:
        _status(group_status, "status")
    alerts = data["alerts"]
    if not isinstance(alerts, list):
        raise _fail("`alerts` must be a list")
    if len(alerts) > MAX_ALERTS:
        raise _fail(f"`alerts` has more than {MAX_ALERTS} entries")
    out = []
    for i, raw in enumerate(alerts):
        where = f"alerts[{i}]"
        item = _object(raw, where)
        labels = _labels(item.get("labels"), f"{where}.labels")
        annotations = _labels(item.get("annotations"), f"{where}.annotations")
        status = _status(item.get("status", group_status), f"{where}.status")
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or annotations.get("message")
            or labels.get("alertname", "")
        )
        out.append(
            make_alert(
                integration=integration,
                source="alertmanager",
                fingerprint=_fingerprint(item.get("fingerprint"), f"{where}.fingerprint", labels),
                status=status,
                ci=_ci(labels),
                severity=labels.get("severity", ""),
                summary=summary,
                labels=labels,
                starts_at=_time(item.get("startsAt"), f"{where}.startsAt"),
            )
        )
    return out


def _generic(data: Mapping[str, Any], integration: str, where: str) -> Alert:
    def name(field: str) -> str:
        return f"{where}.{field}" if where else field

    labels = _labels(data.get("labels"), name("labels"))
    ci = _text(data.get("ci"), name("ci"), limit=200) or _text(
        data.get("service"), name("service"), limit=200
    )
    return make_alert(
        integration=integration,
        source=_text(data.get("source"), name("source"), limit=120),
        fingerprint=_text(
            data.get("fingerprint"), name("fingerprint"), limit=MAX_FINGERPRINT, required=True
        ).strip(),
        status=_status(data.get("status"), name("status")),
        ci=ci.strip() or _ci(labels),
        severity=_text(data.get("severity"), name("severity"), limit=40),
        summary=_text(data.get("summary"), name("summary")),
        labels=labels,
        starts_at=_time(data.get("starts_at"), name("starts_at")),
    )


def generic_event(data: Any, integration: str) -> Alert:
    """One event of the generic shape (already decoded JSON); `PayloadError` names the field."""
    return _generic(_object(data, "event"), integration, "")


def parse_alerts(body: bytes, integration: str) -> list[Alert]:
    """The alerts in a request body, for the integration that sent it.

    Raises `PayloadError` (naming the field) for anything that is not one of the two shapes.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise _fail("body is not JSON") from e
    if isinstance(data, dict) and "alerts" in data:
        return _alertmanager(data, integration)
    if isinstance(data, dict):
        return [_generic(data, integration, "")]
    if isinstance(data, list):
        if not data or len(data) > MAX_ALERTS:
            raise _fail(f"a list of events must hold 1 to {MAX_ALERTS} entries")
        return [_generic(_object(e, f"[{i}]"), integration, f"[{i}]") for i, e in enumerate(data)]
    raise _fail("body must be a JSON object")
