"""Changes after approval in chat: schedule, implement, complete, close, standard changes.

Typed as commands (`schedule CHG-12 Saturday 22:00 to Sunday 02:00`, `implement CHG-12`,
`complete CHG-12 failed disk full`, `close CHG-12`, `standard Restart mail relay Saturday
22:00`) or clicked
as the buttons each step offers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from channels.conversation import Reply
from handlers import change_lifecycle as lifecycle
from handlers.change_lifecycle import ChangeError
from handlers.context import HandlerContext
from handlers.errors import explain
from handlers.registry import Declined, registry
from handlers.replies import language, language_of, say
from handlers.rules import freeze
from handlers.tickets import card, find_ticket
from nlu.types import EntityName, Understanding
from store.changes import ChangeOutcome, ChangePlan
from store.enums import TicketKind
from store.models import Ticket

_OUTCOME_WORDS = {
    "backed out": ChangeOutcome.BACKED_OUT,
    "backed_out": ChangeOutcome.BACKED_OUT,
    "rolled back": ChangeOutcome.BACKED_OUT,
    "failed": ChangeOutcome.FAILED,
    "failure": ChangeOutcome.FAILED,
    "successful": ChangeOutcome.SUCCESSFUL,
    "success": ChangeOutcome.SUCCESSFUL,
    "succeeded": ChangeOutcome.SUCCESSFUL,
    "done": ChangeOutcome.SUCCESSFUL,
}


def instants(nlu: Understanding) -> list[datetime]:
    """The aware datetimes a message names, in the order written."""
    found = []
    for e in sorted(nlu.entities, key=lambda e: e.start):
        if e.entity != EntityName.DATETIME:
            continue
        try:
            value = datetime.fromisoformat(e.value)
        except ValueError:
            continue
        if value.tzinfo is not None:
            found.append(value)
    return found


def outcome_in(text: str) -> ChangeOutcome | None:
    """The outcome a message reports (the first outcome word it uses); None when it reports none."""
    lowered = text.lower()
    hits = [(lowered.find(w), o) for w, o in _OUTCOME_WORDS.items() if w in lowered]
    return min(hits, key=lambda h: h[0])[1] if hits else None


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


def _at(value: datetime, lang: str, *, day: bool = False) -> str:
    """A moment as the language writes it ("Sat 06 Mar 22:00" / "2027-03-06 22:00")."""
    if lang == "en":
        return f"{value:%a %d %b}" if day else f"{value:%a %d %b %H:%M}"
    return f"{value:%Y-%m-%d}" if day else f"{value:%Y-%m-%d %H:%M}"


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
        start=_at(t.planned_start, lang),
        end=_at(t.planned_end.astimezone(t.planned_start.tzinfo), lang),
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


@registry.command("planned")
async def change_calendar(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What changes are planned: "planned changes", or "planned Saturday 00:00 to Monday 00:00"."""
    when = instants(nlu)
    start = when[0] if when else ctx.now
    end = when[1] if len(when) > 1 else start + timedelta(days=7)
    return await _calendar(ctx, start, end, language(ctx, nlu))


_ASKS_CALENDAR = re.compile(
    r"^\s*(?:what|which|any|show|list|tell me)\b.*\bchanges?\b.*\b(?:planned|scheduled)\b",
    re.IGNORECASE,
)
_WEEKEND = re.compile(r"\b(?:(next)\s+)?week-?end\b", re.IGNORECASE)


def asks_calendar(text: str) -> bool:
    """Whether a message asks about the change calendar and names no ticket.

    "What changes are planned this weekend?" is one; a question about one change goes to its
    own handlers.
    """
    return bool(_ASKS_CALENDAR.search(text)) and not re.search(r"\b[A-Z]{3}-\d+", text, re.I)


def weekend(now: datetime, *, following: bool = False) -> tuple[datetime, datetime]:
    """Saturday 00:00 to Monday 00:00 (UTC) of this weekend, or the next with `following`.

    On a Saturday or Sunday this weekend is the one under way.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    saturday = midnight + timedelta(days=(5 - now.weekday()) % 7)
    if now.weekday() == 6:
        saturday = midnight - timedelta(days=1)
    if following:
        saturday += timedelta(days=7)
    return saturday, saturday + timedelta(days=2)


@registry.shape(asks_calendar)
async def calendar_question(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What changes are planned this weekend (or in the days a message names)."""
    when = instants(nlu)
    said = _WEEKEND.search(nlu.text)
    if len(when) > 1:
        start, end = when[0], when[1]
    elif said is not None:
        start, end = weekend(ctx.now, following=bool(said.group(1)))
    elif when:
        start, end = when[0], when[0] + timedelta(days=7)
    else:
        start, end = ctx.now, ctx.now + timedelta(days=7)
    return await _calendar(ctx, start, end, language(ctx, nlu))


async def _calendar(
    ctx: HandlerContext, start: datetime, end: datetime, lang: str = "en"
) -> list[Reply]:
    changes = await ctx.uow.changes.scheduled_between(start, end)
    freezes = await ctx.uow.changes.freezes_between(start, end)
    if not changes and not freezes:
        return [
            Reply(
                text=say(
                    lang,
                    "step.nothing_planned",
                    start=_at(start, lang, day=True),
                    end=_at(end, lang, day=True),
                )
            )
        ]
    lines = [say(lang, "step.planned", start=_at(start, lang), end=_at(end, lang))]
    lines += [
        say(
            lang,
            "step.planned_change",
            ref=t.ref,
            title=t.title,
            start=_at(t.planned_start, lang),
            end=f"{t.planned_end:%H:%M}",
        )
        for t in changes
        if t.planned_start is not None and t.planned_end is not None
    ]
    lines += [
        say(
            lang,
            "step.planned_freeze",
            name=f.name,
            start=_at(f.starts_at, lang),
            end=_at(f.ends_at, lang),
        )
        for f in freezes
    ]
    return [Reply(text="\n".join(lines))]


def window_in(
    nlu: Understanding, *, before: int | None = None
) -> tuple[datetime, datetime | None] | None:
    """The start and end a message names ("Saturday 22:00 to 02:00"), or None without a start.

    The end is None when only one time is given. Only times written before position `before`
    count.
    """
    found = []
    for e in sorted(nlu.entities, key=lambda e: e.start):
        if e.entity != EntityName.DATETIME or (before is not None and e.start >= before):
            continue
        try:
            value = datetime.fromisoformat(e.value)
        except ValueError:
            continue
        if value.tzinfo is not None:
            found.append((value, nlu.text[e.start : e.end]))
    if not found:
        return None
    start = found[0][0]
    if len(found) < 2:
        return start, None
    end, said = found[1]
    return start, freeze.until(start, end, freeze.clock_in(said))
