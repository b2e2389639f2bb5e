"""Incidents: report, add information, escalate, resolve and reopen."""

from __future__ import annotations

from channels.conversation import Reply
from handlers import confirmations, deflection
from handlers.cmdb import impact_for
from handlers.context import HandlerContext
from handlers.devices import device_reported
from handlers.events import link_to_outage
from handlers.major_incidents import swarm_on_p1
from handlers.problems import on_new_incident
from handlers.registry import registry
from handlers.replies import language, language_of, say, status_label
from handlers.routing import place
from handlers.rules import lifecycle
from handlers.rules import priority as prio
from handlers.service_levels import advance, responded, restart_clock, resume, start_clock
from handlers.ticket_ended import ended
from handlers.tickets import (
    agent_buttons,
    announce_major,
    card,
    find_ticket,
    not_found,
    open_ticket,
    title_from,
)
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Criticality, Level, PersonKind, Role, Status, TicketKind
from store.models import Person, Service, Ticket

_UNSURE = {"i don't know", "dont know", "don't know", "not sure", "no idea", "unknown", "idk"}


def level_of(nlu: Understanding, entity: str) -> Level | None:
    """The impact or urgency a message gives; None when it gives none or no valid level."""
    found = nlu.first(entity)
    if found is None:
        return None
    try:
        return Level(found.value)
    except ValueError:
        return None


async def service_named(ctx: HandlerContext, nlu: Understanding) -> tuple[Service | None, str]:
    """The affected service from the message or an answer to "Which system is affected?"."""
    ent = nlu.first(EntityName.SERVICE)
    answer = ctx.params.get("service", "")
    for name in ([ent.value] if ent else []) + ([answer] if answer else []):
        svc = await ctx.uow.services.by_name(name)
        if svc is not None:
            return svc, name
    return None, answer


def is_customer(person: Person) -> bool:
    """People outside the company: contacts, and anyone whose entry names an organisation."""
    return person.kind is PersonKind.CONTACT or bool(person.organisation)


def _assess(
    text: str, nlu: Understanding, service: Service | None, criticality: Criticality | None = None
) -> tuple[Level, Level]:
    return prio.assess(
        text,
        criticality or (service.criticality if service else None),
        said_impact=level_of(nlu, EntityName.IMPACT),
        said_urgency=level_of(nlu, EntityName.URGENCY),
    )


@registry.intent(IntentName.REPORT_INCIDENT)
async def report_incident(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Report something that stopped working: "the VPN is down for the whole office"."""
    if ctx.params.get("reported") and "service" in ctx.params:
        return await _improve(nlu, ctx, ctx.params["reported"])
    text = ctx.text
    service, _ = await service_named(ctx, nlu)
    if service is None:
        service = await device_reported(ctx, text)
    # A part takes its impact from the most critical service that depends on it.
    found = await impact_for(ctx.uow, service) if service else None
    impact, urgency = _assess(text, nlu, service, found.criticality if found else None)
    offered = await deflection.offer(nlu, ctx, IntentName.REPORT_INCIDENT, urgency=urgency)
    if offered is not None:
        return offered
    ticket = await open_ticket(
        ctx,
        kind=TicketKind.INCIDENT,
        title=title_from(text),
        description=text,
        service=service,
        impact=impact,
        urgency=urgency,
        log={"impact_reason": found.reason} if found else {},
    )
    await place(ctx, ticket, service)
    await start_clock(ctx, ticket)
    lang = language(ctx, nlu)
    where = say(lang, "incident.for_service", service=service.name) if service else ""
    label = ticket.priority.value if ticket.priority else ""
    outage = await link_to_outage(ctx, ticket)
    known = say(lang, "incident.known_outage", ref=outage.ref) if outage else ""
    known += await on_new_incident(ctx, ticket)
    why = f" ({found.reason})" if found and " depend" in found.reason else ""
    logged = say(
        lang,
        "incident.logged",
        ref=ticket.ref,
        where=where,
        priority=label,
        why=why,
        known=known,
    )
    # Logged first, asked after: the question only improves a ticket that already exists, and
    # customers are never asked for the names of our systems.
    if service is None and not is_customer(ctx.person):
        ctx.expect(
            "service",
            intent=IntentName.REPORT_INCIDENT.value,
            entity=EntityName.SERVICE.value,
            params={"reported": ticket.ref},
        )
        follow = say(lang, "incident.ask_service")
    else:
        follow = say(lang, "incident.desk_picks")
    return [Reply(text=logged + follow, card=card(ticket, lang=lang), ticket_ref=ticket.ref)]


async def _improve(nlu: Understanding, ctx: HandlerContext, ref: str) -> list[Reply]:
    """The answer to "which system is affected?" updates the ticket just logged."""
    ticket = await ctx.uow.tickets.by_ref(ref)
    if ticket is None or ticket.requester_id != ctx.person.id:
        return [not_found(ref)]
    lang = language(ctx, nlu)
    service, named = await service_named(ctx, nlu)
    if service is None:
        if named.strip() and named.strip().lower() not in _UNSURE:
            ctx.log(ticket, "note", text=f"Affected: {named.strip()[:300]}")
            ticket.updated_at = ctx.now
            return [
                Reply(
                    text=say(lang, "incident.answer_noted", ref=ref),
                    card=card(ticket, lang=lang),
                    ticket_ref=ref,
                )
            ]
        return [Reply(text=say(lang, "incident.desk_sorts", ref=ref), ticket_ref=ref)]
    before = ticket.priority
    impact, urgency = _assess(ticket.description or ticket.title, nlu, service)
    ticket.service_id, ticket.service = service.id, service
    ticket.group_id = service.owner_group_id
    ticket.impact, ticket.urgency = impact, urgency
    ticket.priority = prio.priority(impact, urgency)
    ticket.updated_at = ctx.now
    ctx.log(
        ticket,
        "service",
        service=service.name,
        priority_from=before.value if before else None,
        priority_to=ticket.priority.value,
    )
    if ticket.assignee_id is None:
        await place(ctx, ticket, service)
    if ticket.priority != before:
        await restart_clock(ctx, ticket)
        if prio.is_major(ticket.priority) and (before is None or not prio.is_major(before)):
            await announce_major(ctx, ticket)
        await swarm_on_p1(ctx, ticket)
    known = await on_new_incident(ctx, ticket)
    return [
        Reply(
            text=say(
                lang,
                "incident.filed",
                ref=ref,
                service=service.name,
                priority=ticket.priority.value,
                known=known,
            ),
            card=card(ticket, lang=lang),
            ticket_ref=ref,
        )
    ]


@registry.intent(IntentName.ADD_INFO, actions=("add_note",))
async def add_info(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Add details to a ticket: "INC-42: it only happens on Wi-Fi"."""
    found = await confirmations.target(nlu, ctx, IntentName.ADD_INFO)
    if found.report:
        return await report_incident(nlu, ctx)
    if found.ticket is None:
        return list(found.replies)
    ticket = found.ticket
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
    found = await confirmations.target(nlu, ctx, IntentName.ESCALATE)
    if found.report:
        return await report_incident(nlu, ctx)
    if found.ticket is None:
        return list(found.replies)
    ticket = found.ticket
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
    found = await confirmations.target(nlu, ctx, IntentName.RESOLVE_TICKET)
    if found.ticket is None:
        return list(found.replies)
    ticket = found.ticket
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
    found = await confirmations.target(nlu, ctx, IntentName.REOPEN_TICKET)
    if found.report:
        return await report_incident(nlu, ctx)
    if found.ticket is None:
        return list(found.replies)
    ticket = found.ticket
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
