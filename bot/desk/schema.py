"""One pydantic model per kind of entry in the desk file; the people directory uses `PersonEntry`.

Each model checks what an entry can check alone (shapes, emails, durations, time zones, working
hours). Names that point at other entries are checked by `bot.desk.check` once every file is read.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from channels.phones import to_e164
from handlers.rules.calendar import CalendarError, parse_duration, parse_hours, zone
from handlers.rules.thresholds import ThresholdError
from handlers.rules.thresholds import threshold as rule
from store.cmdb import CI_TYPES
from store.enums import Criticality, Priority, Role, TicketKind

PLATFORMS = ("slack", "telegram", "phone", "x", "messenger", "instagram")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{value!r} is not an email address")
    return email


def _split(value: Any) -> Any:
    """Lists may be written as YAML lists or as one string separated by `;`, `|` or `,`."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in re.split(r"[;|,]", value) if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return value


def _text(value: Any) -> Any:
    """Numbers where text is meant (a Telegram chat id written without quotes) become text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _duration(value: str) -> str:
    try:
        return str(parse_duration(value))
    except CalendarError as e:
        raise ValueError(str(e)) from e


def _timezone(value: str) -> str:
    try:
        zone(value)
    except CalendarError as e:
        raise ValueError(str(e)) from e
    return value


def _roles(value: Any) -> Any:
    names = _split(value)
    if not isinstance(names, tuple):
        return value
    roles = []
    for name in names:
        try:
            roles.append(Role(name.lower()))
        except ValueError as e:
            allowed = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {name!r}; use {allowed}") from e
    return tuple(dict.fromkeys(roles)) or (Role.REQUESTER,)


Name = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=120)]
Email = Annotated[str, AfterValidator(_email)]
Names = Annotated[tuple[Name, ...], BeforeValidator(_split)]
Emails = Annotated[tuple[Email, ...], BeforeValidator(_split)]
DurationText = Annotated[str, BeforeValidator(_text), AfterValidator(_duration)]
BlankIsNone = BeforeValidator(_blank_is_none)


class Entry(BaseModel):
    """Unknown keys are refused: a misspelt key would otherwise be silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class PersonEntry(Entry):
    """A person: who they are, what they may do, and the platform accounts that are theirs."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Email
    roles: Annotated[tuple[Role, ...], BeforeValidator(_roles)] = (Role.REQUESTER,)
    groups: Names = ()
    skills: Names = ()
    identities: dict[str, str] = Field(default_factory=dict)
    manager: Annotated[Email | None, BlankIsNone] = None
    language: Annotated[Literal["en", "zh"] | None, BlankIsNone] = None
    organisation: Annotated[str | None, BlankIsNone, Field(max_length=120)] = None
    devices: Names = ()

    @model_validator(mode="before")
    @classmethod
    def _lift_identities(cls, data: Any) -> Any:
        """CSV columns and YAML keys named after a platform are identities too."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        ids = data.get("identities") or {}
        if not isinstance(ids, dict):
            return data
        ids = dict(ids)
        for platform in PLATFORMS:
            if platform in data:
                ids.setdefault(platform, data.pop(platform))
        data["identities"] = {k: _text(v) for k, v in ids.items()}
        return data

    @field_validator("identities")
    @classmethod
    def _identities(cls, value: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for platform, raw in value.items():
            if platform not in PLATFORMS:
                raise ValueError(f"unknown identity {platform!r}; use {', '.join(PLATFORMS)}")
            text = raw.strip()
            if platform == "phone" and text:
                number = to_e164(text)
                if number is None:
                    raise ValueError(
                        "phone must be a dialable number in E.164 form, like +14155550101"
                    )
                text = number
            if text:
                out[platform] = text
        return out


class OncallDates(Entry):
    """Someone on call over a date range (inclusive), ahead of the weekly rota."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    person: Email

    @model_validator(mode="after")
    def _ordered(self) -> OncallDates:
        if self.end < self.start:
            raise ValueError("`to` is before `from`")
        return self


class Oncall(Entry):
    """The group's on-call rota: people by turns week by week, with dated overrides."""

    weekly: Emails = ()
    starts: date | None = None
    handover: Annotated[str, Field(pattern=r"^(?i:mon|tue|wed|thu|fri|sat|sun) \d{2}:\d{2}$")] = (
        "Mon 09:00"
    )
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    dates: tuple[OncallDates, ...] = ()
    # Paging: urgent tickets outside these hours page on call; unanswered pages move on.
    calendar: Annotated[Name | None, BlankIsNone] = None
    escalate_after: DurationText = "10m"

    @model_validator(mode="after")
    def _has_someone(self) -> Oncall:
        if not self.weekly and not self.dates:
            raise ValueError("an on-call rota needs `weekly` people or `dates`")
        if self.weekly and self.starts is None:
            raise ValueError("a weekly rota needs `starts`: the date the first week begins")
        return self


class GroupEntry(Entry):
    """A team that works tickets, where it is reached, and how work reaches its people."""

    name: Name
    description: str = ""
    lead: Annotated[Email | None, BlankIsNone] = None
    members: Emails = ()
    slack_channel: Annotated[str | None, BlankIsNone, BeforeValidator(_text)] = None
    telegram_chat: Annotated[str | None, BlankIsNone, BeforeValidator(_text)] = None
    auto_assign: bool = False
    default: bool = False
    oncall: Oncall | None = None
    # What its channels read in; the default group's is the whole desk's.
    language: Annotated[Literal["en", "zh"] | None, BlankIsNone] = None


class CalendarEntry(Entry):
    """Working hours in a time zone, with holidays."""

    name: Name
    timezone: Annotated[str, AfterValidator(_timezone)]
    hours: tuple[str, ...]
    holidays: tuple[date, ...] = ()

    @field_validator("hours", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("hours")
    @classmethod
    def _readable(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            parse_hours(value)
        except CalendarError as e:
            raise ValueError(str(e)) from e
        return value


class TargetEntry(Entry):
    """Response and resolution targets of one priority."""

    response: DurationText | None = None
    resolve: DurationText | None = None

    @model_validator(mode="after")
    def _something(self) -> TargetEntry:
        if self.response is None and self.resolve is None:
            raise ValueError("give `response`, `resolve` or both")
        return self


Targets = dict[Priority, TargetEntry]


class AppliesToEntry(Entry):
    """Which tickets an agreement covers; a key left out matches anything."""

    organisation: Name | None = None
    kind: TicketKind | None = None
    service: Name | None = None


class SlaEntry(Entry):
    """A service-level agreement: scope, calendar, targets per priority, quiet period."""

    name: Name
    applies_to: AppliesToEntry = Field(default_factory=AppliesToEntry)
    calendar: Name | None = None
    targets: Targets
    close_after: DurationText | None = None


class Contact(Entry):
    name: str | None = None
    email: Email | None = None
    phone: str | None = None
    url: str | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        number = to_e164(value)
        if number is None:
            raise ValueError("phone must be a dialable number in E.164 form, like +14155550101")
        return number


class SupplierEntry(Entry):
    """An outside supplier, its contract and the targets it owes us on the services it runs."""

    name: Name
    contract: str | None = None
    services: Names = ()
    calendar: Name | None = None
    targets: Targets = Field(default_factory=dict)
    contact: Contact = Field(default_factory=Contact)


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


# -- the change calendar: `standard_changes` and `freeze_windows` -----------------------------


class StandardChangeEntry(Entry):
    """A pre-approved change: what it does, what it touches, how long it takes, how to undo it."""

    name: Name
    description: str = ""
    services: Names = ()
    duration: DurationText = "1h"
    backout_plan: str = ""


class FreezeWindowEntry(Entry):
    """A period in which normal changes may not touch the listed services.

    `start` and `end` are wall-clock times in `timezone` unless they carry an offset.
    """

    name: Name
    start: datetime
    end: datetime
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    services: Names
    reason: str = ""

    @field_validator("services")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a freeze window needs the services it freezes")
        return value

    def starts_at(self) -> datetime:
        return _in_zone(self.start, self.timezone)

    def ends_at(self) -> datetime:
        return _in_zone(self.end, self.timezone)

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindowEntry:
        if self.ends_at() <= self.starts_at():
            raise ValueError("`end` is not after `start`")
        return self


class ChangeBoardEntry(Entry):
    """A change advisory board: the group whose approvers decide normal changes to `services`,
    and how many of them must approve (the requester never counts)."""

    name: Name
    group: Name
    services: Names
    quorum: Annotated[int, Field(ge=1, le=50)] = 1

    @field_validator("services")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a change board needs the services it decides for")
        return value


def _in_zone(value: datetime, timezone: str) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone(timezone))


# -- thresholds: limits on device readings (MQTT), judged by handlers.rules.thresholds ----------


class ThresholdEntry(Entry):
    """`{ci: server-room, metric: temperature, above: 40, for: 5m, severity: critical}`.

    A threshold on a topic names the field to read instead of a metric:
    `{topic: "sensors/+/temp", field: value, above: 40, for: 5m, service: server-room}`.
    """

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, frozen=True, populate_by_name=True
    )

    ci: Annotated[str | None, BlankIsNone, BeforeValidator(_text), Field(max_length=200)] = None
    service: Annotated[str | None, BlankIsNone, BeforeValidator(_text), Field(max_length=200)] = (
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


# -- end of thresholds -------------------------------------------------------------------------
# -- catalog: items people order (`catalog:`) --------------------------------------------------


class FormFieldEntry(Entry):
    """One question of an item's form."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: Annotated[str, Field(min_length=1, max_length=200)]
    label_zh: Annotated[str | None, BlankIsNone, Field(max_length=200)] = None
    type: Literal["text", "choice", "date", "email", "person", "ci"] = "text"
    required: bool = True
    choices: Names = ()

    @model_validator(mode="after")
    def _choices(self) -> FormFieldEntry:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice field needs at least two `choices`")
        if self.type != "choice" and self.choices:
            raise ValueError("only a field of type `choice` has `choices`")
        return self


class CatalogApproval(Entry):
    """Who approves an order: nobody, the requester's manager, or a group."""

    by: Literal["none", "manager", "group"] = "none"
    group: Annotated[Name | None, BlankIsNone] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`approval: manager` is `approval: {by: manager}`."""
        return {"by": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _group_named(self) -> CatalogApproval:
        if self.by == "group" and self.group is None:
            raise ValueError("approval by a group needs `group`")
        if self.by != "group" and self.group is not None:
            raise ValueError("`group` is only for approval by a group")
        return self


class CatalogStep(Entry):
    """One step of an approval chain: the manager, a group with a quorum, or a CI's owners."""

    by: Literal["manager", "group", "ci_owner"]
    group: Annotated[Name | None, BlankIsNone] = None
    quorum: Annotated[int, Field(ge=1, le=20)] = 1
    field: Annotated[str | None, BlankIsNone] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`- manager` is `- {by: manager}`."""
        return {"by": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _complete(self) -> CatalogStep:
        if (self.by == "group") != (self.group is not None):
            raise ValueError("a step `by: group` needs `group`, and only it has one")
        if (self.by == "ci_owner") != (self.field is not None):
            raise ValueError("a step `by: ci_owner` needs `field` (the form field naming the CI)")
        if self.by == "manager" and self.quorum != 1:
            raise ValueError("a manager step has no `quorum`")
        return self


class CatalogTask(Entry):
    """One fulfilment task: done by a group, or by the item's automation."""

    name: Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
    group: Annotated[Name | None, BlankIsNone] = None
    automation: bool = False

    @model_validator(mode="after")
    def _who(self) -> CatalogTask:
        if not self.automation and self.group is None:
            raise ValueError("a task needs `group` (or `automation: true`)")
        return self


class CatalogAutomation(Entry):
    """The webhook an automation task posts the approved request to (signed, retried)."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]


class CatalogFulfilment(Entry):
    """Who fulfils an order, and within how long (the request's resolution target)."""

    group: Name
    target: DurationText | None = None
    tasks: tuple[CatalogTask, ...] = ()
    order: Literal["sequence", "parallel"] = "sequence"


class CatalogOrderers(Entry):
    """Who may order: people with one of `roles` and/or of one of `organisations`."""

    roles: Annotated[tuple[Role, ...], BeforeValidator(_roles)] = ()
    organisations: Names = ()


class CatalogEntry(Entry):
    """An item of the service catalog: its form, approval, fulfilment and who may order it."""

    name: Name
    aliases: Names = ()
    category: Annotated[str, Field(max_length=80)] = ""
    description: Annotated[str, Field(max_length=4000)] = ""
    fields: tuple[FormFieldEntry, ...] = ()
    approval: CatalogApproval = Field(default_factory=CatalogApproval)
    fulfilment: CatalogFulfilment
    ordered_by: CatalogOrderers = Field(default_factory=CatalogOrderers)
    cost: Annotated[str | None, BlankIsNone, BeforeValidator(_text), Field(max_length=60)] = None
    active: bool = True
    approvals: tuple[CatalogStep, ...] = ()
    automation: CatalogAutomation | None = None

    @model_validator(mode="after")
    def _chain(self) -> CatalogEntry:
        if self.approvals and self.approval.by != "none":
            raise ValueError("give either `approval` or `approvals`, not both")
        names = {f.name for f in self.fields}
        for i, step in enumerate(self.approvals):
            if step.field is not None and step.field not in names:
                raise ValueError(f"`approvals.{i}.field`: {step.field!r} is not a form field")
        automated = any(t.automation for t in self.fulfilment.tasks)
        if automated and self.automation is None:
            raise ValueError("a task with `automation: true` needs the item's `automation`")
        return self

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[FormFieldEntry, ...]) -> tuple[FormFieldEntry, ...]:
        seen: set[str] = set()
        for f in value:
            if f.name in seen:
                raise ValueError(f"field {f.name!r} is given twice")
            seen.add(f.name)
        return value


SECTIONS: dict[str, type[Entry]] = {
    "people": PersonEntry,
    "groups": GroupEntry,
    "calendars": CalendarEntry,
    "slas": SlaEntry,
    "suppliers": SupplierEntry,
    "services": ServiceEntry,
    "configuration_items": ServiceEntry,
    "standard_changes": StandardChangeEntry,
    "freeze_windows": FreezeWindowEntry,
    "thresholds": ThresholdEntry,
    "catalog": CatalogEntry,
    "change_boards": ChangeBoardEntry,
}
"""Sections this importer applies, in the order their entries are written."""

LATER: tuple[str, ...] = ()
"""Sections other parts of Switchboard read; this importer accepts them with a warning."""

SETTINGS = ("slack_help_channels",)
"""Top-level keys that are one setting, not a list of entries (stored as they are given)."""

_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,30}$")


def slack_channel_ids(raw: Any) -> tuple[list[str], list[str]]:
    """`slack_help_channels` as channel ids, and what is wrong with it (empty when fine)."""
    if not isinstance(raw, list):
        return [], ["`slack_help_channels` must be a list of channel ids like C0ITHELP"]
    ids: list[str] = []
    problems = []
    for i, value in enumerate(raw, start=1):
        text = str(value).strip() if isinstance(value, str | int) else ""
        if not _CHANNEL_ID.match(text):
            problems.append(f"slack_help_channels #{i}: {value!r} is not a Slack channel id")
        elif text not in ids:
            ids.append(text)
    return ids, problems


def key_of(section: str, entry: Entry) -> str:
    """The natural key an entry is upserted by: email for people, else the name."""
    if isinstance(entry, PersonEntry):
        return entry.email
    return str(getattr(entry, "name", "")).casefold()


def describe(error: ValidationError) -> list[str]:
    """`field: message` lines a person can act on, without pydantic's boilerplate."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"] if p not in ("function-after",))
        msg = str(item["msg"])
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        if item["type"] == "missing":
            lines.append(f"`{where}` is required")
        elif item["type"] == "extra_forbidden":
            lines.append(f"`{where}` is not a known key")
        elif where:
            lines.append(f"`{where}`: {msg}")
        else:
            lines.append(msg)
    return lines
