"""One pydantic model per kind of entry in the desk file; the people directory uses `PersonEntry`.

Each model checks what an entry can check alone (shapes, emails, durations, time zones, working
hours). Names that point at other entries are checked by `bot.desk.check` once every file is read.
The directory, teams, calendars, agreements and suppliers are here, with the sections they all
make up; the configuration database's entries are in `bot.desk.cmdb_schema`, the change
calendar's in `bot.desk.change_schema`, the catalog's in `bot.desk.catalog_schema`, and the
field types they share in `bot.desk.fields`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.desk.catalog_schema import CatalogEntry
from bot.desk.change_schema import ChangeBoardEntry, FreezeWindowEntry, StandardChangeEntry
from bot.desk.cmdb_schema import ServiceEntry, ThresholdEntry
from bot.desk.fields import (
    BlankIsNone,
    DurationText,
    Email,
    Emails,
    Entry,
    Name,
    Names,
    as_text,
    role_list,
    time_zone_name,
)
from channels.phones import to_e164
from handlers.rules.calendar import CalendarError, parse_hours
from store.enums import Priority, Role, TicketKind

PLATFORMS = ("slack", "telegram", "phone", "x", "messenger", "instagram")


class PersonEntry(Entry):
    """A person: who they are, what they may do, and the platform accounts that are theirs."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Email
    roles: Annotated[tuple[Role, ...], BeforeValidator(role_list)] = (Role.REQUESTER,)
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
        data["identities"] = {k: as_text(v) for k, v in ids.items()}
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
    timezone: Annotated[str, AfterValidator(time_zone_name)] = "UTC"
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
    slack_channel: Annotated[str | None, BlankIsNone, BeforeValidator(as_text)] = None
    telegram_chat: Annotated[str | None, BlankIsNone, BeforeValidator(as_text)] = None
    auto_assign: bool = False
    default: bool = False
    oncall: Oncall | None = None
    # What its channels read in; the default group's is the whole desk's.
    language: Annotated[Literal["en", "zh"] | None, BlankIsNone] = None


class CalendarEntry(Entry):
    """Working hours in a time zone, with holidays."""

    name: Name
    timezone: Annotated[str, AfterValidator(time_zone_name)]
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
    """How a supplier is reached: a person, an email address, a phone number, a web page."""

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
