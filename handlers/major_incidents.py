"""Major incidents: an agent declares one, the swarm is called, everyone affected hears news.

Declaring (`major INC-9`) records the major incident, attaches the open incidents on the
same service from the outage window (as correlation links reports to alert incidents), pages
the service's owner group (its channels) and whoever is on call, and announces it. The swarm
channel on Slack is created by the application afterwards (handlers never call a platform).
A P1 incident, however it became one, opens the record by itself (`swarm_on_p1`).
A status update (`broadcast INC-9: failover started, next update 14:30`) goes to every
linked reporter on their own channel, to the swarm channel and to the major-incident topic.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import registry
from handlers.replies import channel_language, language, language_of, say, status_label
from handlers.routing import on_call
from handlers.rules import lifecycle
from handlers.rules.correlation import OUTAGE_WINDOW, UNCLASSIFIED
from handlers.tickets import announce_major, card
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Priority, Role, TicketKind
from store.models import MajorIncident, Ticket

LINK_KIND = "major_incident"
MAX_UPDATE = 1000
_REF = re.compile(r"\bINC-\d+\b", re.IGNORECASE)


async def _incident(
    ctx: HandlerContext, nlu: Understanding | None = None, *, major_only: bool = False
) -> tuple[Ticket | None, Reply | None]:
    """The incident named by reference; else, when the words name none, the one meant.

    Without a reference an update goes to the only open major incident, and a declaration
    to the latest open incident on the service the words name.
    """
    found = _REF.search(ctx.text) or _REF.search(ctx.params.get("ref", ""))
    if found is None:
        if major_only:
            majors = await ctx.uow.major_incidents.open_majors()
            return (majors[0].ticket, None) if len(majors) == 1 else (None, None)
        named = nlu.first(EntityName.SERVICE) if nlu is not None else None
        service = await ctx.uow.services.by_name(named.value) if named else None
        if service is None:
            return None, None
        recent = await ctx.uow.major_incidents.open_incidents_on(
            service.id, ctx.now - OUTAGE_WINDOW, but=0
        )
        if not recent:
            return None, Reply(
                text=say(language(ctx, nlu), "major.none_on_service", service=service.name)
            )
        return recent[-1], None
    ticket = await ctx.uow.tickets.by_ref(found.group(0).upper())
    if ticket is None or ticket.kind is not TicketKind.INCIDENT:
        return None, Reply(
            text=say(language(ctx, nlu), "major.not_found", ref=found.group(0).upper())
        )
    return ticket, None


def _staff_only(ctx: HandlerContext) -> Reply | None:
    if ctx.person.has_role(Role.AGENT):
        return None
    return Reply(text=say(language(ctx), "major.agents_only"))


async def _attach(ctx: HandlerContext, ticket: Ticket) -> list[Ticket]:
    """Link open incidents on the same service from the outage window; every report linked."""
    linked = {t.id for t in await ctx.uow.major_incidents.linked_reports(ticket.id)}
    triage = await ctx.uow.services.by_name(UNCLASSIFIED)
    unclassified = triage is not None and triage.id == ticket.service_id
    if ticket.service_id is not None and not unclassified:
        for other in await ctx.uow.major_incidents.open_incidents_on(
            ticket.service_id, ctx.now - OUTAGE_WINDOW, but=ticket.id
        ):
            if other.id in linked:
                continue
            await ctx.uow.alerts.link(other, ticket, kind=LINK_KIND)
            ctx.log(other, "linked", to=ticket.ref, kind=LINK_KIND)
            linked.add(other.id)
    return [
        t
        for t in await ctx.uow.major_incidents.linked_reports(ticket.id)
        if lifecycle.is_open(t.status)
    ]


async def _page(ctx: HandlerContext, ticket: Ticket, page: Callable[[str], Reply]) -> list[str]:
    """Tell the owner group in its channels and page its on-call person and lead; who."""
    group = ticket.group
    service = ticket.service
    if group is None and service is not None and service.owner_group_id is not None:
        group = await ctx.uow.desk.group(service.owner_group_id)
    if group is None:
        return []
    paged = [f"#{group.name}"]
    reply = page(await channel_language(ctx.uow, group))
    for platform, chat in (("slack", group.slack_channel), ("telegram", group.telegram_chat)):
        if chat:
            ctx.outgoing.append(
                Outgoing(reply=reply, address=Address(channel=platform, conversation=chat, user=""))
            )
    people = []
    if group.oncall:
        email = on_call(group.oncall, ctx.now)
        person = await ctx.uow.people.by_email(email) if email else None
        if person is not None:
            people.append(person)
    if group.lead_id is not None and all(p.id != group.lead_id for p in people):
        lead = await ctx.uow.people.get(group.lead_id)
        if lead is not None:
            people.append(lead)
    for person in people:
        ctx.notify(person.id, page(language_of(person)))
        paged.append(person.name)
    return paged


async def swarm_on_p1(ctx: HandlerContext, ticket: Ticket) -> bool:
    """A P1 incident opens a swarm without anyone declaring it; whether one was opened.

    As for a monitoring alert at P1, the record is what the swarm channel (created by the
    application with the owner group and on-call invited), the status page and the status
    updates hang on. Open incidents on the same service are linked to it as reports.
    """
    if (
        ticket.kind is not TicketKind.INCIDENT
        or ticket.priority is not Priority.P1
        or not lifecycle.is_open(ticket.status)
        or await ctx.uow.major_incidents.for_ticket(ticket.id) is not None
    ):
        return False
    await ctx.uow.major_incidents.declare(
        ticket, by_id=None, lead_id=ticket.assignee_id, at=ctx.now
    )
    reports = await _attach(ctx, ticket)
    ctx.log(ticket, "major_declared", source="priority", linked=[r.ref for r in reports])
    return True


async def declare(ctx: HandlerContext, nlu: Understanding | None = None) -> list[Reply]:
    """Declare an open incident major: link its reports, page its group, announce; agents only."""
    refused = _staff_only(ctx)
    if refused is not None:
        return [refused]
    lang = language(ctx, nlu)
    ticket, problem = await _incident(ctx, nlu)
    if ticket is None:
        return [problem or Reply(text=say(lang, "major.which"))]
    if not lifecycle.is_open(ticket.status):
        # English keeps the state's stored word, as it always said.
        status = ticket.status.value if lang == "en" else status_label(ticket.status, lang)
        return [Reply(text=say(lang, "major.not_open", ref=ticket.ref, status=status))]
    if await ctx.uow.major_incidents.for_ticket(ticket.id) is not None:
        return [Reply(text=say(lang, "major.already", ref=ticket.ref), ticket_ref=ticket.ref)]
    await ctx.uow.major_incidents.declare(
        ticket, by_id=ctx.person.id, lead_id=ctx.person.id, at=ctx.now
    )
    reports = await _attach(ctx, ticket)
    for report in reports:
        ctx.notify_requester(
            report,
            Reply(
                text=say(
                    language_of(report.requester, report),
                    "major.part_of",
                    report=report.ref,
                    ref=ticket.ref,
                    title=ticket.title,
                ),
                ticket_ref=report.ref,
            ),
        )

    def page(reader: str) -> Reply:
        return Reply(
            text=say(
                reader, "major.page", ref=ticket.ref, name=ctx.person.name, title=ticket.title
            ),
            card=card(ticket, ctx.now, lang=reader),
            ticket_ref=ticket.ref,
        )

    paged = await _page(ctx, ticket, page)
    ctx.log(ticket, "major_declared", linked=[r.ref for r in reports], paged=paged)
    await announce_major(ctx, ticket, note="declared")
    who = say(lang, "major.paged", names=", ".join(paged)) if paged else say(lang, "major.no_group")
    linked = (
        say(lang, "major.reports.one")
        if len(reports) == 1
        else say(lang, "major.reports.many", count=len(reports))
    )
    return [
        Reply(
            text=say(lang, "major.declared", ref=ticket.ref, reports=linked, who=who),
            card=card(ticket, ctx.now, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]


_LEAD_IN = re.compile(
    r"^\W*(?:<@\w+>\s*)?(?:(?:post|send)\s+(?:an?\s+)?)?(?:status\s+)?"
    r"(?:update|broadcast)(?:\s+(?:on|for|to))?(?:\s+(?:the\s+)?major\s+incident)?\s*[:,\-]?",
    re.IGNORECASE,
)


def _update_text(text: str) -> str:
    """The news in an update: what follows the reference, or the words after the lead-in."""
    parts = _REF.split(text, maxsplit=1)
    after = parts[-1] if len(parts) > 1 else _LEAD_IN.sub("", text, count=1)
    return after.strip().lstrip(":,-–— ").strip()[:MAX_UPDATE]


async def broadcast(ctx: HandlerContext) -> list[Reply]:
    """Send a status update on an open major incident to its channels and reporters; agents only."""
    refused = _staff_only(ctx)
    if refused is not None:
        return [refused]
    lang = language(ctx)
    ticket, problem = await _incident(ctx, major_only=True)
    if ticket is None:
        return [problem or Reply(text=say(lang, "major.broadcast_how"))]
    major = await ctx.uow.major_incidents.for_ticket(ticket.id)
    if major is None or not major.open:
        return [
            Reply(
                text=say(lang, "major.not_major", ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        ]
    text = _update_text(ctx.text)
    if not text:
        return [Reply(text=say(lang, "major.what_update", ref=ticket.ref))]
    return [await _send_update(ctx, ticket, major, text, await _reports(ctx, ticket), lang)]


async def _reports(ctx: HandlerContext, ticket: Ticket) -> list[Ticket]:
    return [
        t
        for t in await ctx.uow.major_incidents.linked_reports(ticket.id)
        if lifecycle.is_open(t.status)
    ]


async def _send_update(
    ctx: HandlerContext,
    ticket: Ticket,
    major: MajorIncident,
    text: str,
    reports: list[Ticket],
    lang: str = "en",
) -> Reply:
    major.last_update = text
    major.updates += 1
    major.updated_at = ctx.now
    ctx.log(ticket, "status_update", text=text, number=major.updates)
    for report in reports:
        ctx.notify_requester(
            report,
            Reply(
                text=say(
                    language_of(report.requester, report),
                    "major.update_yours",
                    ref=ticket.ref,
                    report=report.ref,
                    text=text,
                ),
                ticket_ref=report.ref,
                human=True,
            ),
        )
    told_lang = language_of(ticket.requester, ticket)
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(told_lang, "major.update", ref=ticket.ref, text=text),
            ticket_ref=ticket.ref,
            human=True,
        ),
    )
    # The swarm channel gathers the owner group; the major-incident channel is the desk's.
    if major.swarm_channel:
        swarm = Address(channel="slack", conversation=major.swarm_channel, user="")
        in_swarm = await channel_language(ctx.uow, ticket.group)
        ctx.outgoing.append(Outgoing(reply=_news(in_swarm, ticket, text), address=swarm))
    ctx.announce("major_incident", _news(await channel_language(ctx.uow), ticket, text))
    told = len(reports) + (1 if ticket.requester_id != ctx.person.id else 0)
    sent = say(lang, "major.sent.one") if told == 1 else say(lang, "major.sent.many", count=told)
    end = say(lang, "major.sent_swarm" if major.swarm_channel else "major.sent_end")
    return Reply(
        text=sent + end,
        ticket_ref=ticket.ref,
    )


@registry.command("major", listed=False)
async def declare_major_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Declare a major incident: "major INC-9" (agents): links reports, pages the owners."""
    return await declare(ctx, nlu)


@registry.command("broadcast", listed=False)
async def status_update_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Post a major incident update to everyone affected: "broadcast INC-9: <update>"."""
    return await broadcast(ctx)


@registry.intent(IntentName.DECLARE_MAJOR, listed=False)
async def declare_major(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Declare a major incident: "declare a major incident for INC-9" (agents)."""
    return await declare(ctx, nlu)


@registry.intent(IntentName.STATUS_UPDATE, listed=False)
async def status_update(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Send a major incident update to everyone affected: "update INC-9: failover started"."""
    if not ctx.person.has_role(Role.AGENT):
        # A requester's "update INC-9: it works now" is news for their own ticket.
        add_info = registry.for_intent(IntentName.ADD_INFO)
        if add_info is not None:
            return await add_info.func(nlu, ctx)
    return await broadcast(ctx)


def _news(lang: str, ticket: Ticket, text: str) -> Reply:
    return Reply(text=say(lang, "major.update", ref=ticket.ref, text=text), ticket_ref=ticket.ref)
