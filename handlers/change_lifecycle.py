"""Changes after approval: schedule, implement, review, close; standard changes; the calendar.

Chat and the REST API share these functions. A step the change's stage does not allow, a
window that ends before it starts, or a freeze the change may not enter raises `ChangeError`
with a sentence naming what is allowed; `kind` tells the API which status answers it.

Here are the steps after scheduling and the buttons that offer them. The refusals live in
`handlers.change_refusals`, scheduling and standard changes in `handlers.change_schedule`, and
a release following its changes in `handlers.change_releases`; their names stay importable
from here.
"""

from __future__ import annotations

from channels.conversation import Button, ButtonStyle, Reply
from handlers.change_refusals import ChangeError, Refused, may_work, span_of, stage_after
from handlers.change_releases import follow_release, release_status
from handlers.change_schedule import (
    DEFAULT_LENGTH,
    Scheduled,
    as_freeze,
    calendar_collisions,
    planned,
    raise_standard,
    risk,
    schedule,
    standard_named,
)
from handlers.context import HandlerContext
from handlers.replies import language_of, say
from handlers.rules import change_stages
from handlers.rules.change_stages import Step
from handlers.tickets import card
from store.changes import ChangeOutcome, ChangePlan, ChangeStage
from store.enums import ChangeType
from store.models import Person, Ticket

__all__ = [
    "DEFAULT_LENGTH",
    "ChangeError",
    "Refused",
    "Scheduled",
    "as_freeze",
    "calendar_collisions",
    "close",
    "follow_release",
    "implement",
    "planned",
    "raise_standard",
    "release_status",
    "review",
    "risk",
    "schedule",
    "span_of",
    "standard_named",
    "step_buttons",
]


async def implement(ctx: HandlerContext, ticket: Ticket) -> ChangePlan:
    """Work on a scheduled change starts."""
    may_work(ctx, ticket)
    plan = await ctx.uow.changes.plan(ticket)
    plan.stage = stage_after(ticket, plan, Step.IMPLEMENT)
    _moved(ctx, ticket, plan, "implementing")
    await follow_release(ctx, ticket)
    return plan


async def review(
    ctx: HandlerContext, ticket: Ticket, outcome: ChangeOutcome, note: str = ""
) -> ChangePlan:
    """The implementation is done: record how it ended; failures and emergencies get a review."""
    may_work(ctx, ticket)
    plan = await ctx.uow.changes.plan(ticket)
    plan.stage = stage_after(ticket, plan, Step.REVIEW)
    plan.outcome = outcome
    plan.review_note = note
    if change_stages.needs_review(ticket.change_type or ChangeType.NORMAL, outcome):
        plan.review_required = True
    ticket.resolved_at = ctx.now
    _moved(ctx, ticket, plan, "completed", outcome=outcome.value, note=note or None)
    if plan.review_required:
        await _open_review(ctx, ticket, outcome)
    await follow_release(ctx, ticket)
    return plan


async def _open_review(ctx: HandlerContext, ticket: Ticket, outcome: ChangeOutcome) -> None:
    """Record the post-implementation review as a piece of work of its own.

    It is put to the change's group and the approvals channel with the button that closes it
    once done.
    """
    change_type = ticket.change_type or ChangeType.NORMAL
    emergency = change_type is ChangeType.EMERGENCY
    why = "an emergency change" if emergency else outcome.label
    ctx.log(ticket, "review_opened", reason=why)

    def due(lang: str = "en") -> Reply:
        reason = say(lang, "lifecycle.emergency" if emergency else f"step.outcome.{outcome}")
        return Reply(
            text=say(lang, "lifecycle.review_due", ref=ticket.ref, why=reason, title=ticket.title),
            card=card(ticket, lang=lang),
            buttons=(
                Button(
                    label=say(lang, "step.button.close"), action="change_close", value=ticket.ref
                ),
            ),
            ticket_ref=ticket.ref,
        )

    if ticket.group_id is not None:
        for person_id in await ctx.uow.problems.members(ticket.group_id):
            ctx.notify(person_id, due(language_of(await ctx.uow.session.get(Person, person_id))))
    ctx.announce("approvals", due())


async def close(ctx: HandlerContext, ticket: Ticket) -> ChangePlan:
    """Close a completed change (after its review, when it needs one)."""
    may_work(ctx, ticket)
    plan = await ctx.uow.changes.plan(ticket)
    plan.stage = stage_after(ticket, plan, Step.CLOSE)
    ticket.closed_at = ctx.now
    if plan.review_required:
        # Closing a change that owed a review is the review's end: who ended it is kept.
        ctx.log(ticket, "review_closed", by=ctx.person.name)
    _moved(ctx, ticket, plan, "closed")
    await follow_release(ctx, ticket)
    return plan


def _moved(
    ctx: HandlerContext, ticket: Ticket, plan: ChangePlan, action: str, **detail: str | None
) -> ChangePlan:
    plan.updated_at = ctx.now
    ticket.status = change_stages.STATUS[plan.stage]
    ticket.updated_at = ctx.now
    ctx.log(ticket, action, stage=plan.stage.value, **detail)
    return plan


def step_buttons(ticket: Ticket, stage: ChangeStage, lang: str = "en") -> tuple[Button, ...]:
    """The next steps of a change as buttons."""
    if stage is ChangeStage.SCHEDULED:
        return (
            Button(label=say(lang, "step.button.start"), action="change_start", value=ticket.ref),
        )
    if stage is ChangeStage.IMPLEMENTING:
        return (
            Button(
                label=say(lang, "step.button.successful"),
                action="change_successful",
                value=ticket.ref,
                style=ButtonStyle.PRIMARY,
            ),
            Button(label=say(lang, "step.button.failed"), action="change_failed", value=ticket.ref),
            Button(
                label=say(lang, "step.button.backed_out"),
                action="change_backed_out",
                value=ticket.ref,
                style=ButtonStyle.DANGER,
            ),
        )
    if stage is ChangeStage.REVIEW:
        return (
            Button(label=say(lang, "step.button.close"), action="change_close", value=ticket.ref),
        )
    return ()
