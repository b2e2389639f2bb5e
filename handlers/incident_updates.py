"""A ticket after it is logged: information added, escalation, resolution, reopening, taking.

Each finds its ticket through `handlers.confirmations` (which asks when it is unsure); a
message that turns out to be a new report is served by `report_incident`.
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers import confirmations
from handlers.context import HandlerContext
from handlers.incident_report import level_of, report_incident
from handlers.major_incidents import swarm_on_p1
from handlers.registry import registry
from handlers.replies import language, language_of, say, status_label
from handlers.rules import lifecycle
from handlers.rules import priority as prio
from handlers.service_levels import advance, responded, restart_clock, resume
from handlers.ticket_ended import ended
from handlers.tickets import agent_buttons, announce_major, card, find_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Level, Role, Status, TicketKind
from store.models import Ticket


async def _targeted(
    nlu: Understanding, ctx: HandlerContext, intent: IntentName
) -> Ticket | list[Reply]:
    """The ticket `intent` acts on, or the replies to send instead (a question, a new report)."""
    found = await confirmations.target(nlu, ctx, intent)
    if found.report:
        # Words that name no ticket of theirs describe a problem not yet reported.
        return await report_incident(nlu, ctx)
    return found.ticket if found.ticket is not None else list(found.replies)


@registry.intent(IntentName.ADD_INFO, actions=("add_note",))
async def add_info(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Add details to a ticket: "INC-42: it only happens on Wi-Fi"."""
    ticket = await _targeted(nlu, ctx, IntentName.ADD_INFO)
    if not isinstance(ticket, Ticket):
        return ticket
    lang = language(ctx, nlu)
    note = ctx.params.get("note") or ("" if ctx.via_action else ctx.text)
    if not note.strip():
        ctx.expect("note", intent=IntentName.ADD_INFO.value, params={"ref": ticket.ref})
        return [Reply(text=say(lang, "note.ask", ref=ticket.ref), ticket_ref=ticket.ref)]
    ctx.log(ticket, "note", text=note[:4000])
    ticket.updated_at = ctx.now
    resumed = ""
    if ticket.status is Status.ON_HOLD and ticket.requester_id == ctx.person.id:
        ticket.status = Status.IN_PROGRESS
        ctx.log(ticket, "status", to=Status.IN_PROGRESS.value, reason="requester replied")
        resumed = say(lang, "note.resumed")
        await resume(ctx, ticket)
    if ticket.requester_id != ctx.person.id:
        responded(ticket, ctx.now)
        ctx.notify_requester(
            ticket,
            Reply(
                text=say(
                    language_of(ticket.requester, ticket),
                    "notify.note_by",
                    name=ctx.person.name,
                    ref=ticket.ref,
                    note=note[:500],
                ),
                ticket_ref=ticket.ref,
            ),
        )
    else:
        ctx.notify(
            ticket.assignee_id,
            Reply(
                text=say(
                    language_of(ticket.assignee), "notify.new_info", ref=ticket.ref, note=note[:500]
                ),
                ticket_ref=ticket.ref,
            ),
        )
    added = say(lang, "note.added", ref=ticket.ref, resumed=resumed)
    return [Reply(text=added, ticket_ref=ticket.ref)]


@registry.intent(IntentName.ESCALATE, actions=("escalate",))
async def escalate(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Escalate a ticket that needs faster attention: "this is blocking the whole team"."""
    ticket = await _targeted(nlu, ctx, IntentName.ESCALATE)
    if not isinstance(ticket, Ticket):
        return ticket
    lang = language(ctx, nlu)
    if not lifecycle.is_open(ticket.status):
        status = status_label(ticket.status, lang)
        return [Reply(text=say(lang, "escalate.closed", ref=ticket.ref, status=status))]
    before = ticket.priority
    said = level_of(nlu, EntityName.URGENCY)
    current = ticket.urgency or Level.MEDIUM
    urgency = (
        prio.raise_level(current)
        if said is None or said == current
        else max(said, current, key=[Level.LOW, Level.MEDIUM, Level.HIGH].index)
    )
    reach = level_of(nlu, "impact")
    impact = ticket.impact or Level.MEDIUM
    if reach is Level.HIGH:
        impact = prio.raise_level(impact)
    ticket.urgency, ticket.impact = urgency, impact
    ticket.escalation_level += 1
    ticket.updated_at = ctx.now
    if ticket.kind is TicketKind.INCIDENT:
        ticket.priority = prio.priority(impact, urgency)
    after = ticket.priority
    if after != before:
        await restart_clock(ctx, ticket)
    ctx.log(
        ticket,
        "escalated",
        level=ticket.escalation_level,
        priority_from=before.value if before else None,
        priority_to=after.value if after else None,
        reason=(ctx.params.get("note") or ctx.text)[:1000] or None,
    )
    moved = bool(before and after and before != after)

    def changed_in(lang: str) -> str:
        if before is None or after is None or not moved:
            return ""
        return say(lang, "escalate.changed", before=before.value, after=after.value)

    changed = changed_in(lang)
    to = language_of(ticket.assignee)
    ctx.notify(
        ticket.assignee_id,
        Reply(
            text=say(
                to, "notify.escalated", ref=ticket.ref, name=ctx.person.name, changed=changed_in(to)
            ),
            card=card(ticket, lang=to),
            ticket_ref=ticket.ref,
        ),
    )
    if after and prio.is_major(after) and (before is None or not prio.is_major(before)):
        await announce_major(ctx, ticket, note="escalated")
    await swarm_on_p1(ctx, ticket)
    return [
        Reply(
            text=say(lang, "escalate.done", ref=ticket.ref, changed=changed),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]


@registry.intent(IntentName.RESOLVE_TICKET, actions=("resolve",))
async def resolve(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Mark a ticket resolved: "it works again, thanks"."""
    ticket = await _targeted(nlu, ctx, IntentName.RESOLVE_TICKET)
    if not isinstance(ticket, Ticket):
        return ticket
    lang = language(ctx, nlu)
    if not lifecycle.can_move(ticket.kind, ticket.status, Status.RESOLVED):
        status = status_label(ticket.status, lang)
        return [
            Reply(
                text=say(lang, "resolve.cannot", ref=ticket.ref, status=status),
                ticket_ref=ticket.ref,
            )
        ]
    ticket.status = Status.RESOLVED
    ticket.resolved_at = ctx.now
    ticket.updated_at = ctx.now
    advance(ticket, ctx.now)
    note = ctx.params.get("note") or (None if ctx.via_action else ctx.text[:1000] or None)
    ctx.log(ticket, "resolved", note=note)
    await ended(ctx, ticket)
    if ticket.requester_id != ctx.person.id:
        ctx.notify_requester(
            ticket,
            Reply(
                text=say(
                    language_of(ticket.requester, ticket),
                    "notify.resolved_for_requester",
                    ref=ticket.ref,
                    name=ctx.person.name,
                ),
                card=card(ticket, lang=language_of(ticket.requester, ticket)),
                ticket_ref=ticket.ref,
            ),
        )
    ctx.notify(
        ticket.assignee_id,
        Reply(
            text=say(
                language_of(ticket.assignee),
                "notify.resolved",
                ref=ticket.ref,
                name=ctx.person.name,
            ),
            ticket_ref=ticket.ref,
        ),
    )
    return [
        Reply(
            text=say(lang, "resolve.done", ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
            replaces=ctx.via_action,
        )
    ]


@registry.intent(IntentName.REOPEN_TICKET, actions=("reopen",))
async def reopen(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Reopen a resolved ticket: "it's broken again"."""
    ticket = await _targeted(nlu, ctx, IntentName.REOPEN_TICKET)
    if not isinstance(ticket, Ticket):
        return ticket
    lang = language(ctx, nlu)
    status = status_label(ticket.status, lang)
    if ticket.status is not Status.RESOLVED:
        if lifecycle.is_open(ticket.status):
            return [
                Reply(
                    text=say(lang, "reopen.still_open", ref=ticket.ref, status=status),
                    ticket_ref=ticket.ref,
                )
            ]
        return [Reply(text=say(lang, "reopen.cannot", ref=ticket.ref, status=status))]
    ticket.status = Status.IN_PROGRESS
    ticket.resolved_at = None
    ticket.updated_at = ctx.now
    advance(ticket, ctx.now)
    ctx.log(ticket, "reopened", reason=(ctx.params.get("note") or ctx.text)[:1000] or None)
    ctx.notify(
        ticket.assignee_id,
        Reply(
            text=say(
                language_of(ticket.assignee),
                "notify.reopened",
                ref=ticket.ref,
                name=ctx.person.name,
            ),
            card=card(ticket, lang=language_of(ticket.assignee)),
            ticket_ref=ticket.ref,
        ),
    )
    return [
        Reply(
            text=say(lang, "reopen.done", ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]


@registry.action("assign_me")
async def assign_to_me(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Take a ticket (agents)."""
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "take.agents_only", ref=ticket.ref))]
    if not lifecycle.is_open(ticket.status):
        status = status_label(ticket.status, lang)
        text = say(lang, "take.closed", ref=ticket.ref, status=status)
        return [Reply(text=text, ticket_ref=ticket.ref)]
    # Taking a ticket that routing gave you acknowledges it: that is the first response.
    if ticket.assignee_id == ctx.person.id and ticket.responded_at is not None:
        return [Reply(text=say(lang, "take.already", ref=ticket.ref), ticket_ref=ticket.ref)]
    return [assign(ticket, ctx)]


def assign(ticket: Ticket, ctx: HandlerContext) -> Reply:
    """Give the ticket to the person asking and tell the requester."""
    previous = ticket.assignee.name if ticket.assignee else None
    ticket.assignee_id = ctx.person.id
    ticket.assignee = ctx.person
    if ticket.status is Status.NEW:
        ticket.status = Status.IN_PROGRESS
    ticket.updated_at = ctx.now
    responded(ticket, ctx.now)
    ctx.log(ticket, "assigned", to=ctx.person.name, previous=previous)
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(
                language_of(ticket.requester, ticket),
                "notify.working_on",
                name=ctx.person.name,
                ref=ticket.ref,
            ),
            ticket_ref=ticket.ref,
        ),
    )
    return Reply(
        text=say(language_of(ctx.person), "take.done", ref=ticket.ref),
        card=card(ticket, lang=language_of(ctx.person)),
        buttons=agent_buttons(ticket, language_of(ctx.person)),
        ticket_ref=ticket.ref,
        replaces=True,
    )
