"""A change's steps after its decision: schedule, implement, review (the outcome), close."""

from __future__ import annotations

from enum import StrEnum

from handlers.errors import ExplainedError, Said, Term, Terms
from store.changes import ChangeOutcome, ChangeStage
from store.enums import ChangeType, Status


class Step(StrEnum):
    """What a person does to a change after it is approved."""

    SCHEDULE = "schedule"
    IMPLEMENT = "implement"
    REVIEW = "review"
    CLOSE = "close"


class StageError(ExplainedError, ValueError):
    """A step the change's stage does not allow; the message names the allowed ones."""


_NEXT: dict[ChangeStage, dict[Step, ChangeStage]] = {
    ChangeStage.PLANNED: {Step.SCHEDULE: ChangeStage.SCHEDULED},
    ChangeStage.SCHEDULED: {
        Step.SCHEDULE: ChangeStage.SCHEDULED,
        Step.IMPLEMENT: ChangeStage.IMPLEMENTING,
    },
    ChangeStage.IMPLEMENTING: {Step.REVIEW: ChangeStage.REVIEW},
    ChangeStage.REVIEW: {Step.CLOSE: ChangeStage.CLOSED},
    ChangeStage.CLOSED: {},
}

STATUS = {
    ChangeStage.PLANNED: Status.APPROVED,
    ChangeStage.SCHEDULED: Status.APPROVED,
    ChangeStage.IMPLEMENTING: Status.IN_PROGRESS,
    ChangeStage.REVIEW: Status.RESOLVED,
    ChangeStage.CLOSED: Status.CLOSED,
}
"""The ticket status each stage shows, so lists and SLAs read a change like any ticket."""


def allowed(stage: ChangeStage) -> list[Step]:
    """The steps a change in `stage` may take next."""
    return list(_NEXT[stage])


def after(ref: str, status: Status, stage: ChangeStage, step: Step) -> ChangeStage:
    """The stage `step` leads to, or a StageError naming what the change allows now.

    Nothing happens to a change before it is approved: the decision comes first.
    """
    if status in (Status.REJECTED, Status.CANCELLED) or (
        status is not Status.APPROVED and stage is ChangeStage.PLANNED
    ):
        raise StageError(Said("change.refused.not_approved", ref=ref, status=status))
    found = _NEXT[stage].get(step)
    if found is None:
        steps = Terms(
            tuple(Term(f"change.step.{s.value}") for s in allowed(stage)),
            empty=Term("change.step.nothing"),
        )
        raise StageError(
            Said(
                "change.refused.step",
                ref=ref,
                stage=Term(f"change.stage.{stage.value}"),
                step=Term(f"change.step.{step.value}"),
                steps=steps,
            )
        )
    return found


def needs_review(change_type: ChangeType, outcome: ChangeOutcome) -> bool:
    """Failed and backed-out changes get a post-implementation review, as do emergency ones."""
    return change_type is ChangeType.EMERGENCY or outcome is not ChangeOutcome.SUCCESSFUL
