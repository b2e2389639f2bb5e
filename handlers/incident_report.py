"""Reporting an incident: the service, impact and urgency a message names, and the ticket logged.

A report is logged first and asked about after: when no service is named, the person is
asked which system is affected, and the answer (`_improve`) files the ticket under it,
placing and re-prioritising it. The helpers that read a service or a level from a message
serve the other processes too (requests, changes, forms).
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers import deflection
from handlers.cmdb import impact_for
from handlers.context import HandlerContext
from handlers.devices import device_reported
from handlers.events import link_to_outage
from handlers.major_incidents import swarm_on_p1
from handlers.problems import on_new_incident
from handlers.registry import registry
from handlers.replies import language, say
from handlers.routing import place
from handlers.rules import priority as prio
from handlers.service_levels import note_clock, restart_clock
from handlers.tickets import announce_major, card, not_found, open_ticket, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Criticality, Level, PersonKind, TicketKind
from store.models import Person, Service

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
        clock=True,
        kind=TicketKind.INCIDENT,
        title=title_from(text),
        description=text,
        service=service,
        impact=impact,
        urgency=urgency,
        log={"impact_reason": found.reason} if found else {},
    )
    await place(ctx, ticket, service)
    note_clock(ctx, ticket)
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
