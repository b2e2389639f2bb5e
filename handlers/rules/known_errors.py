"""Problems: their stages, when a report matches a known error, when incidents recur."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from handlers.errors import ExplainedError, Said, Term, Terms
from store.enums import Status
from store.problems import ProblemStage

_NEXT = {
    ProblemStage.NEW: {ProblemStage.INVESTIGATING, ProblemStage.KNOWN_ERROR, ProblemStage.CLOSED},
    ProblemStage.INVESTIGATING: {ProblemStage.KNOWN_ERROR, ProblemStage.RESOLVED},
    ProblemStage.KNOWN_ERROR: {ProblemStage.RESOLVED, ProblemStage.INVESTIGATING},
    ProblemStage.RESOLVED: {ProblemStage.CLOSED, ProblemStage.INVESTIGATING},
    ProblemStage.CLOSED: set(),
}

STATUS = {
    ProblemStage.NEW: Status.NEW,
    ProblemStage.INVESTIGATING: Status.IN_PROGRESS,
    ProblemStage.KNOWN_ERROR: Status.IN_PROGRESS,
    ProblemStage.RESOLVED: Status.RESOLVED,
    ProblemStage.CLOSED: Status.CLOSED,
}
"""The ticket status each stage shows."""

RECUR_COUNT = 3
RECUR_WINDOW = timedelta(hours=24)


class ProblemStageError(ExplainedError, ValueError):
    """A move the problem's stage does not allow; the message names the allowed ones."""


def allowed(stage: ProblemStage) -> list[ProblemStage]:
    """The stages a problem in `stage` may move to, in lifecycle order."""
    return sorted(_NEXT[stage], key=list(ProblemStage).index)


def move(ref: str, stage: ProblemStage, target: ProblemStage, *, workaround: str) -> ProblemStage:
    """`target`, if the lifecycle allows it; a known error must say its workaround."""
    if target not in _NEXT[stage]:
        names = Terms(
            tuple(Term(f"problem.stage.{s.value}") for s in allowed(stage)),
            empty=Term("problem.stage.none"),
        )
        raise ProblemStageError(
            Said(
                "problem.refused.stage",
                ref=ref,
                stage=Term(f"problem.stage.{stage.value}"),
                target=Term(f"problem.stage.{target.value}"),
                names=names,
            )
        )
    if target is ProblemStage.KNOWN_ERROR and not workaround.strip():
        raise ProblemStageError(Said("problem.refused.no_workaround", ref=ref))
    return target


_WORD = re.compile(r"[\w-]+")


@lru_cache(maxsize=4096)
def words(text: str) -> frozenset[str]:
    """The words of `text` longer than two letters, case-folded, for matching symptoms.

    Kept per text: a recurrence check compares the newest report with every candidate of
    the day, and the next report compares the same candidates again.
    """
    return frozenset(w.casefold() for w in _WORD.findall(text) if len(w) > 2)


def matches(text: str, symptoms: Sequence[str]) -> bool:
    """A report matches a known error's symptoms when every word of one symptom is in it.

    A known error without symptoms matches every report on its service.
    """
    if not symptoms:
        return True
    said = words(text)
    return any(words(s) and words(s) <= said for s in symptoms)


@dataclass(frozen=True, slots=True)
class Report:
    """An incident as recurrence sees it."""

    id: int
    at: datetime
    text: str


def similar(a: str, b: str) -> bool:
    """Two reports say much the same: at least half the words of the shorter one are shared."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return False
    return len(wa & wb) * 2 >= min(len(wa), len(wb))


def recurring(
    reports: Iterable[Report],
    now: datetime,
    *,
    count: int = RECUR_COUNT,
    window: timedelta = RECUR_WINDOW,
    offered: frozenset[int] = frozenset(),
) -> list[Report]:
    """The newest cluster of at least `count` similar reports within `window`, else empty.

    Reports already offered as a problem are left out, so one cluster is offered once.
    """
    recent = sorted(
        (r for r in reports if now - window <= r.at <= now and r.id not in offered),
        key=lambda r: (r.at, r.id),
        reverse=True,
    )
    if not recent:
        return []
    newest = recent[0]
    cluster = [r for r in recent if similar(newest.text, r.text)]
    return sorted(cluster, key=lambda r: (r.at, r.id)) if len(cluster) >= count else []
