"""The change calendar's entries in the desk file.

`standard_changes` (pre-approved), `freeze_windows` and `change_boards`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.desk.fields import DurationText, Entry, Name, Names, in_zone, time_zone_name


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
    timezone: Annotated[str, AfterValidator(time_zone_name)] = "UTC"
    services: Names
    reason: str = ""

    @field_validator("services")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a freeze window needs the services it freezes")
        return value

    def starts_at(self) -> datetime:
        """When the window opens, as an aware time."""
        return in_zone(self.start, self.timezone)

    def ends_at(self) -> datetime:
        """When the window closes, as an aware time."""
        return in_zone(self.end, self.timezone)

    @model_validator(mode="after")
    def _ordered(self) -> FreezeWindowEntry:
        if self.ends_at() <= self.starts_at():
            raise ValueError("`end` is not after `start`")
        return self


class ChangeBoardEntry(Entry):
    """A change advisory board: who decides normal changes to `services`, and how many must.

    The board is the group whose approvers decide; `quorum` of them must approve, and the
    requester never counts.
    """

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
