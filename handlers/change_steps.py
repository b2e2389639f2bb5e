"""Changes after approval in chat: schedule, implement, complete, close, standard changes.

Typed as commands (`schedule CHG-12 Saturday 22:00 to Sunday 02:00`, `implement CHG-12`,
`complete CHG-12 failed disk full`, `close CHG-12`, `standard Restart mail relay Saturday
22:00`) or clicked
as the buttons each step offers.

What a message says is read in `handlers.change_messages` and the calendar is answered in
`handlers.change_calendar`; their names stay importable from here.
"""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers import change_lifecycle as lifecycle
from handlers.change_lifecycle import ChangeError
from handlers.change_messages import instants, moment, outcome_in, window_in
from handlers.context import HandlerContext
from handlers.errors import explain
from handlers.registry import Declined, registry
from handlers.replies import language, language_of, say
from handlers.tickets import card, find_ticket
from nlu.types import EntityName, Understanding
from store.changes import ChangeOutcome, ChangePlan
from store.enums import TicketKind
from store.models import Ticket


def _names_a_change(nlu: Understanding, ctx: HandlerContext) -> bool:
    refs = [e.value for e in nlu.entities if e.entity == EntityName.TICKET_REF]
    refs += [ctx.params["ref"]] if ctx.params.get("ref") else []
    return any(r.upper().startswith("CHG-") for r in refs)


def _decline_unless_a_change(nlu: Understanding, ctx: HandlerContext) -> None:
    """A command word that names no change ("schedule a meeting room") is an ordinary message."""
    if not (_names_a_change(nlu, ctx) or ctx.via_action):
        raise Declined


async def _change(nlu: Understanding, ctx: HandlerContext, how: str) -> Ticket | Reply:
    ticket, problem = await find_ticket(nlu, ctx, kinds=[TicketKind.CHANGE], fallback=None)
    if ticket is None:
        return problem or Reply(text=say(language(ctx, nlu), "step.which", how=how))
    return ticket


def _said(ticket: Ticket, plan: ChangePlan, text: str, lang: str = "en") -> Reply:
    return Reply(
        text=text,
        card=card(ticket, lang=lang),
        buttons=lifecycle.step_buttons(ticket, plan.stage, lang),
        ticket_ref=ticket.ref,
    )


def _refused(e: ChangeError, ticket: Ticket | None, lang: str) -> list[Reply]:
    return [Reply(text=explain(e, lang), ticket_ref=ticket.ref if ticket else None)]


def _scheduled_text(done: lifecycle.Scheduled, lang: str = "en") -> str:
    t = done.ticket
    assert t.planned_start is not None
    assert t.planned_end is not None
    # The window is said in the zone it was given in (the desk's, for times typed in chat).
    zone = t.planned_start.tzname() or "UTC"
    text = say(
        lang,
        "step.scheduled",
        ref=t.ref,
        start=moment(t.planned_start, lang),
        end=moment(t.planned_end.astimezone(t.planned_start.tzinfo), lang),
        zone=zone,
        risk=say(lang, f"step.risk.{done.risk.name.lower()}"),
    )
    if done.freeze_override:
        text += say(lang, "step.freeze_override", names=done.freeze_override)
    if done.collisions:
        refs = ", ".join(c.ref for c in done.collisions)
        text += say(lang, "step.overlaps", refs=refs)
    return text


_BACKOUT = re.compile(r"[;,.]?\s*\bback[- ]?out(?:\s+plan)?\s*:\s*(.*)$", re.I | re.S)


@registry.command("schedule")
async def schedule_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Schedule an approved change: "schedule CHG-12 Saturday 22:00 to Sunday 02:00"."""
    _decline_unless_a_change(nlu, ctx)
    lang = language(ctx, nlu)
    found = await _change(nlu, ctx, '"schedule CHG-12 Saturday 22:00 to Sunday 02:00"')
    if isinstance(found, Reply):
        return [found]
    # "...; back-out: restore the snapshot" ends the message with the back-out plan, whose
    # words name neither the window nor the items.
    backout = _BACKOUT.search(nlu.text)
    cut = backout.start() if backout else len(nlu.text)
    when = window_in(nlu, before=cut)
    if when is None:
        return [Reply(text=say(lang, "step.when_schedule", ref=found.ref))]
    start, end = when[0], when[1] or when[0] + lifecycle.DEFAULT_LENGTH
    # Configuration items named in the message ("on Payroll") are what the change touches.
    named = [e.value for e in nlu.entities if e.entity == EntityName.SERVICE and e.start < cut]
    plan = backout.group(1).strip()[:2000] if backout else None
    try:
        done = await lifecycle.schedule(
            ctx, found, start, end, items=named or None, backout_plan=plan or None
        )
    except ChangeError as e:
        return _refused(e, found, language(ctx))
    text = _scheduled_text(done, lang)
    if plan:
        text += say(lang, "step.backout", plan=plan)
    return [_said(found, done.plan, text, lang)]


async def _implement(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    found = await _change(nlu, ctx, '"implement CHG-12"')
    if isinstance(found, Reply):
        return [found]
    try:
        plan = await lifecycle.implement(ctx, found)
    except ChangeError as e:
        return _refused(e, found, language(ctx))
    lang = language(ctx, nlu)
    return [_said(found, plan, say(lang, "step.implementing", ref=found.ref), lang)]


@registry.command("implement")
async def implement_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Start implementing a scheduled change: "implement CHG-12"."""
    _decline_unless_a_change(nlu, ctx)
    return await _implement(nlu, ctx)


@registry.action("change_start")
async def start_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Start implementing a change."""
    return await _implement(nlu, ctx)


async def _complete(
    nlu: Understanding, ctx: HandlerContext, outcome: ChangeOutcome | None, note: str
) -> list[Reply]:
    found = await _change(nlu, ctx, '"complete CHG-12 successful"')
    if isinstance(found, Reply):
        return [found]
    lang = language(ctx, nlu)
    if outcome is None:
        return [
            Reply(
                text=say(lang, "step.how_ended", ref=found.ref),
                ticket_ref=found.ref,
            )
        ]
    try:
        plan = await lifecycle.review(ctx, found, outcome, note)
    except ChangeError as e:
        return _refused(e, found, language(ctx))
    from handlers import problems

    resolved = []
    if outcome is ChangeOutcome.SUCCESSFUL:
        resolved = await problems.resolve_by_change(ctx, found)

    def completed(lang: str) -> str:
        text = say(
            lang, "step.complete", ref=found.ref, outcome=say(lang, f"step.outcome.{outcome}")
        )
        if plan.review_required:
            text += say(lang, "step.review_due")
        for prb in resolved:
            text += say(lang, "step.problem_resolved", ref=prb.ref)
        return text

    told = completed(language_of(found.requester, found))
    ctx.notify_requester(found, Reply(text=told, card=card(found, lang=lang), ticket_ref=found.ref))
    return [_said(found, plan, completed(lang), lang)]


@registry.command("complete")
async def complete_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Record how a change ended: "complete CHG-12 successful" (or failed, backed out)."""
    _decline_unless_a_change(nlu, ctx)
    text = nlu.text
    for e in nlu.entities:
        if e.entity == EntityName.TICKET_REF:
            text = text.replace(nlu.text[e.start : e.end], " ")
    note = " ".join(text.split()[1:])
    return await _complete(nlu, ctx, outcome_in(note), note[:1000])


@registry.action("change_successful")
async def successful_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The change went as planned."""
    return await _complete(nlu, ctx, ChangeOutcome.SUCCESSFUL, "")


@registry.action("change_failed")
async def failed_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The change failed."""
    return await _complete(nlu, ctx, ChangeOutcome.FAILED, "")


@registry.action("change_backed_out")
async def backed_out_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The change was backed out."""
    return await _complete(nlu, ctx, ChangeOutcome.BACKED_OUT, "")


def _first_ref_is_a_change(nlu: Understanding) -> bool:
    refs = sorted(
        (e for e in nlu.entities if e.entity == EntityName.TICKET_REF), key=lambda e: e.start
    )
    return bool(refs) and refs[0].value.upper().startswith("CHG-")


@registry.command("close")
async def close_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Close a completed change: "close CHG-12"."""
    # "close the ticket please" and "close INC-4, fixed by CHG-7" are about other tickets:
    # the change is closed only when it is the first ticket the message names.
    if not _first_ref_is_a_change(nlu):
        raise Declined
    return await _close(nlu, ctx)


@registry.action("change_close")
async def close_clicked(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Close a completed change."""
    return await _close(nlu, ctx)


async def _close(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    found = await _change(nlu, ctx, "the Close button on a completed change")
    if isinstance(found, Reply):
        return [found]
    try:
        plan = await lifecycle.close(ctx, found)
    except ChangeError as e:
        return _refused(e, found, language(ctx))
    lang = language(ctx, nlu)
    return [_said(found, plan, say(lang, "step.closed", ref=found.ref), lang)]


@registry.command("standard")
async def standard_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Raise a pre-approved standard change: "standard Restart mail relay Saturday 22:00"."""
    when = instants(nlu)
    lang = language(ctx, nlu)
    named = nlu.text.split(maxsplit=1)[1] if len(nlu.text.split()) > 1 else ""
    dates = [e for e in nlu.entities if e.entity == EntityName.DATETIME]
    if dates:
        named = nlu.text[: min(e.start for e in dates)].split(maxsplit=1)[-1]
    templates = await ctx.uow.changes.standards()
    template = await lifecycle.standard_named(ctx, named) if named else None
    if template is None:
        listed = ", ".join(t.name for t in templates) or say(lang, "step.no_standards")
        return [Reply(text=say(lang, "step.which_standard", listed=listed))]
    if not when:
        return [Reply(text=say(lang, "step.when_standard", name=template.name))]
    try:
        done = await lifecycle.raise_standard(ctx, template, when[0])
    except ChangeError as e:
        return _refused(e, None, language(ctx))
    text = say(lang, "step.standard", ref=done.ticket.ref, name=template.name)
    return [_said(done.ticket, done.plan, text + _scheduled_text(done, lang), lang)]


# Imported after the steps are declared, so the help lists `planned` after them.
from handlers.change_calendar import (  # noqa: E402
    asks_calendar,
    calendar_question,
    change_calendar,
    weekend,
)

__all__ = [
    "asks_calendar",
    "backed_out_clicked",
    "calendar_question",
    "change_calendar",
    "close_change",
    "close_clicked",
    "complete_change",
    "failed_clicked",
    "implement_change",
    "instants",
    "outcome_in",
    "schedule_change",
    "standard_change",
    "start_clicked",
    "successful_clicked",
    "weekend",
    "window_in",
]
