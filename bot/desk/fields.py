"""What the desk file's entries are made of: the base model, the field types and their checks.

Lists may be written as YAML lists or as one string separated by `;`, `|` or `,`; durations as
`30s`, `15m`, `4h`, `3d`; blank text means absent.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from handlers.rules.calendar import CalendarError, parse_duration, zone
from store.enums import Role

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(value: str) -> str:
    """The address in lower case; anything that is not an email address is refused."""
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{value!r} is not an email address")
    return email


def split_list(value: Any) -> Any:
    """Lists may be written as YAML lists or as one string separated by `;`, `|` or `,`."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in re.split(r"[;|,]", value) if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return value


def as_text(value: Any) -> Any:
    """Numbers where text is meant (a Telegram chat id written without quotes) become text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def blank_is_none(value: Any) -> Any:
    """Blank text is no value at all."""
    return None if isinstance(value, str) and not value.strip() else value


def duration_text(value: str) -> str:
    """A duration like `30s`, `15m`, `4h` or `3d`, checked and written out in full."""
    try:
        return str(parse_duration(value))
    except CalendarError as e:
        raise ValueError(str(e)) from e


def time_zone_name(value: str) -> str:
    """The name of a time zone, refused unless it is known."""
    try:
        zone(value)
    except CalendarError as e:
        raise ValueError(str(e)) from e
    return value


def role_list(value: Any) -> Any:
    """Role names as roles, each once; none at all means requester."""
    names = split_list(value)
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


Name = Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=120)]
Email = Annotated[str, AfterValidator(email_address)]
Names = Annotated[tuple[Name, ...], BeforeValidator(split_list)]
Emails = Annotated[tuple[Email, ...], BeforeValidator(split_list)]
DurationText = Annotated[str, BeforeValidator(as_text), AfterValidator(duration_text)]
BlankIsNone = BeforeValidator(blank_is_none)


class Entry(BaseModel):
    """Unknown keys are refused: a misspelt key would otherwise be silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def in_zone(value: datetime, timezone: str) -> datetime:
    """A wall-clock time in the named zone; a time that carries an offset keeps it."""
    return value if value.tzinfo is not None else value.replace(tzinfo=zone(timezone))
