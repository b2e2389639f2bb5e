"""Threshold rules for device readings: when a stream of readings becomes one alert.

A threshold names what it watches (a CI and a metric, or an MQTT topic filter and a field),
a limit (`above` or `below`) and how long a breach must last (`for`). `ThresholdWatch` keeps,
per threshold and CI, when the current breach started; it fires once when the breach has
lasted `for`, and clears once when a reading is back within the limit. Everything in
between changes nothing, so a flood of readings costs a dictionary look-up each and never
a queued event. No I/O: the caller feeds readings and ingests the breaches returned.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

SEVERITIES = {
    "critical": "critical",
    "high": "critical",
    "warning": "warning",
    "medium": "warning",
    "info": "info",
    "low": "info",
}
"""Severities a threshold may name, and the alert severity each stands for."""

MAX_WATCHED = 50_000
"""Breach states kept at most; beyond it the oldest quiet ones are forgotten."""

_DURATION = re.compile(r"(\d+)\s*([smh])")


class ThresholdError(ValueError):
    """A threshold definition that cannot be used, with the reason."""


def parse_for(value: Any) -> timedelta:
    """`for:` as a duration: seconds as a number, or `30s`, `5m`, `1h`, `1h 30m`."""
    if isinstance(value, bool):
        raise ThresholdError("`for` must be a duration such as 5m")
    if isinstance(value, int | float):
        if value < 0 or not math.isfinite(value):
            raise ThresholdError("`for` must not be negative")
        return timedelta(seconds=float(value))
    text = str(value).strip().lower()
    pos, seconds = 0, 0
    for found in _DURATION.finditer(text):
        if text[pos : found.start()].strip():
            break
        seconds += int(found.group(1)) * {"s": 1, "m": 60, "h": 3600}[found.group(2)]
        pos = found.end()
    if pos == 0 or text[pos:].strip():
        raise ThresholdError(f"`for` must be a duration such as 5m, not {value!r}")
    return timedelta(seconds=seconds)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching: `+` is one level, a trailing `#` any number of levels."""
    want, got = topic_filter.split("/"), topic.split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(got) or (part != "+" and part != got[i]):
            return False
    return len(want) == len(got)


@dataclass(frozen=True, slots=True, kw_only=True)
class Threshold:
    """One limit on one kind of reading."""

    ci: str = ""
    metric: str = ""
    topic: str = ""
    field: str = "value"
    above: float | None = None
    below: float | None = None
    sustain: timedelta = timedelta(0)
    severity: str = "warning"

    @property
    def key(self) -> str:
        """A stable identity of the rule (alert fingerprints are derived from it)."""
        raw = "|".join(
            [
                self.ci.casefold(),
                self.metric,
                self.topic,
                self.field,
                str(self.above),
                str(self.below),
            ]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:12]

    def breached(self, value: float) -> bool:
        """Whether `value` is past the limit; a value exactly at it is within."""
        if self.above is not None and value > self.above:
            return True
        return self.below is not None and value < self.below

    def describe(self) -> str:
        """`temperature above 40 for 5m`."""
        what = self.metric or self.field
        limit = f"above {self.above:g}" if self.above is not None else f"below {self.below:g}"
        minutes, seconds = divmod(int(self.sustain.total_seconds()), 60)
        lasting = f"{minutes}m" if not seconds else f"{int(self.sustain.total_seconds())}s"
        return f"{what} {limit}" + (f" for {lasting}" if self.sustain else "")


def threshold(data: Mapping[str, Any]) -> Threshold:
    """A `Threshold` from its desk file form (`ci` or `service`, `for`, `above` or `below`)."""
    ci = str(data.get("ci") or data.get("service") or "").strip()
    metric = str(data.get("metric") or "").strip()
    topic = str(data.get("topic") or "").strip()
    if not (ci or topic):
        raise ThresholdError("a threshold needs `ci` (or `service`) or `topic`")
    if not (metric or topic):
        raise ThresholdError("a threshold needs `metric` or `topic`")
    above, below = data.get("above"), data.get("below")
    if (above is None) == (below is None):
        raise ThresholdError("give exactly one of `above` or `below`")
    limit = above if above is not None else below
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(limit):
        raise ThresholdError("`above` / `below` must be a number")
    severity = str(data.get("severity") or "warning").strip().lower()
    if severity not in SEVERITIES:
        raise ThresholdError(f"`severity` must be one of {', '.join(SEVERITIES)}")
    return Threshold(
        ci=ci,
        metric=metric,
        topic=topic,
        field=str(data.get("field") or metric or "value").strip(),
        above=float(above) if above is not None else None,
        below=float(below) if below is not None else None,
        sustain=parse_for(data.get("for", 0)),
        severity=SEVERITIES[severity],
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One reading as the rules see it: where it came from and its numbers."""

    topic: str
    at: datetime
    ci: str = ""
    metric: str = ""
    value: float | None = None
    fields: Mapping[str, float] = field(default_factory=dict)


class Change(StrEnum):
    """Which way a breach went: it started firing, or the value is back within the limit."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    """A threshold crossed for long enough (`FIRING`), or back within it (`RESOLVED`)."""

    rule: Threshold
    ci: str
    change: Change
    started_at: datetime
    value: float

    @property
    def fingerprint(self) -> str:
        """The alert key of this rule on this CI, so repeated breaches count on one incident."""
        return f"threshold:{self.rule.key}:{self.ci.casefold()}"[:120]


def value_for(rule: Threshold, sample: Sample) -> tuple[str, float] | None:
    """The CI and value a sample gives this rule, or None when the rule does not watch it."""
    if rule.topic and not topic_matches(rule.topic, sample.topic):
        return None
    if rule.ci and sample.ci and rule.ci.casefold() != sample.ci.casefold():
        return None
    if rule.metric and sample.metric:
        if rule.metric != sample.metric or sample.value is None:
            return None
        value: float | None = sample.value
    else:
        value = sample.fields.get(rule.field)
    if value is None:
        return None
    return (rule.ci or sample.ci or sample.topic), value


@dataclass
class _State:
    since: datetime | None = None
    fired: bool = False
    last: float = 0.0


class ThresholdWatch:
    """Breach state per (threshold, CI), fed one sample at a time."""

    def __init__(self, rules: Iterable[Threshold] = ()) -> None:
        self.rules: tuple[Threshold, ...] = tuple(rules)
        self._states: dict[tuple[str, str], _State] = {}

    def replace_rules(self, rules: Iterable[Threshold]) -> None:
        """New rules; the state of rules that stay is kept, that of removed ones dropped."""
        self.rules = tuple(rules)
        keep = {r.key for r in self.rules}
        self._states = {k: s for k, s in self._states.items() if k[0] in keep}

    def observe(self, sample: Sample) -> list[Breach]:
        """The breaches this sample starts or ends (usually none)."""
        out: list[Breach] = []
        for rule in self.rules:
            found = value_for(rule, sample)
            if found is None:
                continue
            ci, value = found
            key = (rule.key, ci.casefold())
            state = self._states.get(key)
            if rule.breached(value):
                if state is None:
                    state = self._states[key] = _State()
                    self._forget_quiet()
                if state.since is None or sample.at < state.since:
                    state.since = sample.at
                state.last = value
                if not state.fired and sample.at - state.since >= rule.sustain:
                    state.fired = True
                    out.append(
                        Breach(
                            rule=rule,
                            ci=ci,
                            change=Change.FIRING,
                            started_at=state.since,
                            value=value,
                        )
                    )
            elif state is not None:
                if state.fired and state.since is not None:
                    out.append(
                        Breach(
                            rule=rule,
                            ci=ci,
                            change=Change.RESOLVED,
                            started_at=state.since,
                            value=value,
                        )
                    )
                del self._states[key]
        return out

    def _forget_quiet(self) -> None:
        # Many CIs breaching briefly must not grow memory without bound: the oldest breaches
        # that never fired go first.
        if len(self._states) <= MAX_WATCHED:
            return
        for key in [k for k, s in self._states.items() if not s.fired][: len(self._states) // 10]:
            del self._states[key]

    def __len__(self) -> int:
        return len(self._states)
