"""Releases: names, windows that contain their changes', and a status that follows theirs.

The status of a release is read from its changes, strongest signal first: one failed or
backed-out change fails the release; when every change is complete (successfully) the release
is complete; once any change has started it is in progress; before that, one rejection
rejects it, one change still awaiting approval keeps it awaiting, and otherwise it is
approved. Cancelled changes do not count; a release with no change is planned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.errors import Said, When
from handlers.rules.freeze import Window
from store.changes import ChangeOutcome, ChangeStage
from store.enums import Status
from store.releases import ReleaseStatus

NAME = re.compile(r"\bR-(\d{1,9})\b", re.IGNORECASE)
"""How a release is named in chat: `R-12`."""

_STARTED = (ChangeStage.IMPLEMENTING, ChangeStage.REVIEW, ChangeStage.CLOSED)
_DONE = (ChangeStage.REVIEW, ChangeStage.CLOSED)


@dataclass(frozen=True, slots=True)
class Member:
    """What the release needs to know about one of its changes."""

    status: Status
    stage: ChangeStage
    outcome: ChangeOutcome | None = None


def status_of(members: Sequence[Member]) -> ReleaseStatus:
    """The release's status from its changes' (see the module's docstring)."""
    live = [m for m in members if m.status is not Status.CANCELLED]
    if not live:
        return ReleaseStatus.PLANNED
    if any(m.outcome in (ChangeOutcome.FAILED, ChangeOutcome.BACKED_OUT) for m in live):
        return ReleaseStatus.FAILED
    if all(m.stage in _DONE for m in live):
        return ReleaseStatus.COMPLETE
    if any(m.stage in _STARTED for m in live):
        return ReleaseStatus.IN_PROGRESS
    if any(m.status is Status.REJECTED for m in live):
        return ReleaseStatus.REJECTED
    if any(m.status is Status.AWAITING_APPROVAL for m in live):
        return ReleaseStatus.AWAITING_APPROVAL
    return ReleaseStatus.APPROVED


def name_in(text: str) -> str | None:
    """The release a message names (`R-12`), upper-cased, or None."""
    found = NAME.search(text)
    return f"R-{int(found.group(1))}" if found else None


def outside(release: Window, start: datetime | None, end: datetime | None) -> bool:
    """Whether a change's window sticks out of the release's.

    A change without a window does not (it must fit when it is scheduled).
    """
    if start is None or end is None:
        return False
    return start < release.start or end > release.end


def outside_sentence(ref: str, start: datetime, end: datetime, release: Window) -> str:
    """Why a change outside the release window is refused, in English."""
    return outside_said(ref, start, end, release).text("en")


def outside_said(ref: str, start: datetime, end: datetime, release: Window) -> Said:
    """`outside_sentence` as a catalog sentence, for a reader of any language."""
    return Said(
        "change.refused.outside_release",
        ref=ref,
        start=When(start),
        end=When(end),
        release_start=When(release.start),
        release_end=When(release.end),
    )
