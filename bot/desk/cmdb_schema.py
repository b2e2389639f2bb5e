"""The configuration database's entries in the desk file.

Services and configuration items (`services:`, `configuration_items:`) and the limits on
their readings (`thresholds:`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.desk.fields import BlankIsNone, Entry, Name, Names, as_text
from handlers.rules.thresholds import ThresholdError
from handlers.rules.thresholds import threshold as rule
from store.cmdb import CI_TYPES
from store.enums import Criticality


def _ci_type(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    kind = value.strip().lower()
    if kind not in CI_TYPES:
        raise ValueError(f"unknown type {value!r}; use {', '.join(CI_TYPES)}")
    return kind


Scalar = str | int | float | bool | None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class CiFields(Entry):
    """What a configuration item is and how it relates to others: all but its name."""

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it here rather than fail at the database.
        if _has_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data

    type: Annotated[str, BeforeValidator(_ci_type)] = "service"
    criticality: Criticality = Criticality.MEDIUM
    description: str = ""
    owner_group: Annotated[Name | None, BlankIsNone] = None
    aliases: Names = ()
    supplier: Annotated[Name | None, BlankIsNone] = None
    attributes: dict[Annotated[str, Field(min_length=1, max_length=80)], Scalar] = Field(
        default_factory=dict, max_length=100
    )
    depends_on: Names = ()
    runs_on: Names = ()
    part_of: Annotated[Name | None, BlankIsNone] = None
    skills: Names = ()

    @field_validator("criticality", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class ServiceEntry(CiFields):
    """A service or configuration item (`services:` and `configuration_items:` alike)."""

    name: Name


class ThresholdEntry(Entry):
    """`{ci: server-room, metric: temperature, above: 40, for: 5m, severity: critical}`.

    A threshold on a topic names the field to read instead of a metric:
    `{topic: "sensors/+/temp", field: value, above: 40, for: 5m, service: server-room}`.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True
    )

    ci: Annotated[str | None, BlankIsNone, BeforeValidator(as_text), Field(max_length=200)] = None
    service: Annotated[str | None, BlankIsNone, BeforeValidator(as_text), Field(max_length=200)] = (
        None
    )
    metric: Annotated[str | None, BlankIsNone, Field(max_length=120)] = None
    topic: Annotated[str | None, BlankIsNone, Field(max_length=200)] = None
    field: Annotated[str | None, BlankIsNone, Field(max_length=80)] = None
    above: float | None = None
    below: float | None = None
    for_: Annotated[str | int | float, Field(alias="for")] = 0
    severity: str = "warning"

    @model_validator(mode="after")
    def _usable(self) -> ThresholdEntry:
        try:
            rule(self.stored())
        except ThresholdError as e:
            raise ValueError(str(e)) from e
        if self.ci and self.service and self.ci.casefold() != self.service.casefold():
            raise ValueError("give `ci` or `service`, not two different names")
        return self

    def stored(self) -> dict[str, Any]:
        """The form kept in the database and read by the MQTT subscriber."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        if "service" in data:
            data["ci"] = data.pop("service")
        return data

    @property
    def name(self) -> str:
        """The natural key: what is watched, and which limit."""
        limit = f">{self.above:g}" if self.above is not None else f"<{self.below:g}"
        what = self.metric or self.field or "value"
        return f"{self.ci or self.service or self.topic} {what} {limit}"
