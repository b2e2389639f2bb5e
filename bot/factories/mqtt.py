"""Building the MQTT subscriber, and the thresholds that judge its readings.

The thresholds come from the desk file (`thresholds:`), stored by `switchboard desk import`
as one JSON list under `THRESHOLDS_KEY`; the judge reads them again every
`REFRESH_SECONDS`, keeping the breach state of rules that did not change.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import structlog

from bot import metrics
from bot.resilience import Outage
from channels.base import Channel, ConfigurationError, Cursors
from channels.conversation import Alert
from handlers.rules.thresholds import (
    Breach,
    Change,
    Sample,
    Threshold,
    ThresholdError,
    ThresholdWatch,
    threshold,
)

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.platforms import ChannelDeps
    from channels.mqtt.parse import Reading

log = structlog.get_logger(__name__)

THRESHOLDS_KEY = "events:thresholds"
REFRESH_SECONDS = 30.0


def rules_from(raw: str | None) -> list[Threshold]:
    """The stored thresholds; an entry that no longer reads is skipped (and logged)."""
    if not raw:
        return []
    try:
        entries: Any = json.loads(raw)
    except ValueError:
        log.warning("mqtt.thresholds_unreadable")
        return []
    rules = []
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        try:
            rules.append(threshold(entry if isinstance(entry, dict) else {}))
        except ThresholdError as e:
            log.warning("mqtt.threshold_skipped", index=i, reason=str(e))
    return rules


def alert_for(breach: Breach) -> Alert:
    """The alert a breach raises or clears, on the CI the threshold names."""
    from channels.mqtt.parse import threshold_alert

    rule = breach.rule
    state = "back within limits" if breach.change is Change.RESOLVED else rule.describe()
    return threshold_alert(
        fingerprint=breach.fingerprint,
        status=breach.change.value,
        ci=breach.ci,
        severity=rule.severity,
        summary=f"{breach.ci}: {state} (now {breach.value:g})",
        started_at=breach.started_at,
        labels={
            "threshold": rule.describe(),
            "metric": rule.metric or rule.field,
            "value": f"{breach.value:g}",
            **({"topic": rule.topic} if rule.topic else {}),
        },
    )


class ThresholdJudge:
    """Readings in, the alerts their thresholds start or end out."""

    def __init__(self, cursors: Cursors | None, *, refresh_seconds: float = REFRESH_SECONDS):
        self.cursors = cursors
        self.refresh_seconds = refresh_seconds
        self.watch = ThresholdWatch()
        self._raw: str | None = None
        self._loaded_at = -math.inf

    async def __call__(self, reading: Reading) -> list[Alert]:
        """The alerts a reading starts or ends; thresholds are reloaded every `refresh_seconds`."""
        metrics.MQTT_MESSAGES.labels("reading").inc()
        await self._refresh()
        sample = Sample(
            topic=reading.topic,
            at=reading.at,
            ci=reading.ci,
            metric=reading.metric,
            value=reading.value,
            fields=reading.fields,
        )
        return [alert_for(b) for b in self.watch.observe(sample)]

    async def _refresh(self) -> None:
        if self.cursors is None or time.monotonic() - self._loaded_at < self.refresh_seconds:
            return
        self._loaded_at = time.monotonic()
        try:
            raw = await self.cursors.get(THRESHOLDS_KEY)
        except Exception as e:
            # The database is away: the thresholds known so far keep judging.
            log.warning("mqtt.thresholds_unavailable", error=type(e).__name__)
            return
        if raw != self._raw:
            self._raw = raw
            self.watch.replace_rules(rules_from(raw))
            log.info("mqtt.thresholds_loaded", count=len(self.watch.rules))


def _quarantined(topic: str, reason: str) -> None:
    metrics.MQTT_MESSAGES.labels("quarantined").inc()


def build(settings: Settings, deps: ChannelDeps) -> Channel | None:
    """The subscriber when `MQTT_URL` is set, else None."""
    mqtt = settings.mqtt
    if not mqtt.enabled or mqtt.url is None:
        return None
    # Imported here so a deployment without MQTT never loads the client.
    from channels.mqtt.channel import MqttChannel, topic_filters

    if deps.cursors is None:
        raise ConfigurationError("the MQTT subscriber needs the thresholds store", platform="mqtt")
    return MqttChannel(
        url=mqtt.url,
        topics=topic_filters(mqtt.topics),
        judge=ThresholdJudge(deps.cursors),
        backoff=Outage("mqtt", base=0.5, cap=30.0),
        quarantine=_quarantined,
    )
