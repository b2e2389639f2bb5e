"""Monitoring alerts: open, count, resolve incidents, and link people's reports to outages.

One incident per alert fingerprint while it is open: a repeat is counted on it (a count and
a last-seen time on the fingerprint's row, not a ticket event each), a clearance resolves it
when nobody has worked it, and tells whoever did otherwise. A person reporting a problem with
a service (or one that depends on a service) that has an alert incident open is told it is a
known outage, and the two tickets are linked; an alert opening while people's reports on its
service (or one depending on it) are open links them and tells their reporters the same. An
alert naming no CI the desk knows opens its incident on the `unclassified` service, for
triage, rather than being dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from channels.conversation import Alert, Reply
from handlers.cmdb import impact_for, reach
from handlers.context import HandlerContext
from handlers.replies import language_of, say
from handlers.rules import lifecycle
from handlers.rules import priority as prio
from handlers.rules.correlation import (
    OUTAGE_WINDOW,
    UNCLASSIFIED,
    Outcome,
    outcome,
    title,
    urgency,
)
from handlers.ticket_ended import ended
from handlers.tickets import announce_major, card
from store.enums import Priority, Status, TicketKind
from store.errors import ConflictError
from store.models import AlertIncident, Service, Ticket
from store.uow import UnitOfWork

_DESCRIPTION_LABELS = 20


async def handle_alert(alert: Alert, ctx: HandlerContext) -> list[Reply]:
    """Apply one monitoring alert; monitoring sources get no reply, people get notices."""
    row = await ctx.uow.alerts.by_fingerprint(alert.fingerprint)
    incident_open = lifecycle.is_open(row.ticket.status) if row is not None else None
    touched = False
    if row is not None and incident_open and not alert.firing:
        touched = await ctx.uow.alerts.touched_by_people(row.ticket)
    decided = outcome(firing=alert.firing, incident_open=incident_open, touched=touched)
    if decided is Outcome.OPEN:
        await _open(alert, ctx)
    elif row is not None and decided is Outcome.REPEAT:
        _repeat(row, ctx)
    elif row is not None and decided is Outcome.RESOLVE:
        await _resolve(alert, row, ctx)
    elif row is not None and decided is Outcome.TELL:
        _tell(alert, row, ctx)
    return []


async def count_repeats(
    uow: UnitOfWork, alerts: Sequence[tuple[int, Alert]], *, now: datetime
) -> list[int]:
    """Count, in one statement, the alerts that only repeat an open incident; their ids.

    `alerts` are `(inbox id, alert)` in the order they arrived. Of each fingerprint, the
    firing alerts up to its first other one are counted when its incident is open (what
    `handle_alert` would do with each, one at a time); the rest are left, in order, for
    `handle_alert`, since they open, resolve or tell. Nothing is loaded but the incident's
    id and its ticket's status, and no ticket event is written: a repeat is a counter.
    """
    rows = await uow.alerts.states({a.fingerprint for _, a in alerts})
    counts: dict[int, int] = {}
    counted: dict[int, list[int]] = {}
    stopped: set[str] = set()
    for inbox_id, alert in alerts:
        fp = alert.fingerprint
        row = rows.get(fp)
        if fp in stopped or row is None or not row.ticket_open or not alert.firing:
            stopped.add(fp)
            continue
        counts[row.id] = counts.get(row.id, 0) + 1
        counted.setdefault(row.id, []).append(inbox_id)
    if not counts:
        return []
    if await uow.alerts.count_repeats(counts, now) != len(counts):
        # A ticket closed since it was read: the caller rolls back and its alerts go the
        # long way, one by one, instead.
        raise ConflictError("an alert's incident closed while its repeats were counted")
    return [i for ids in counted.values() for i in ids]


def _description(alert: Alert) -> str:
    lines = [alert.summary or "Monitoring alert", "", f"Source: {alert.source}"]
    if alert.ci:
        lines.append(f"CI: {alert.ci}")
    if alert.severity:
        lines.append(f"Severity: {alert.severity}")
    if alert.starts_at:
        lines.append(f"Started: {alert.starts_at.isoformat()}")
    lines += [f"{k}: {v}" for k, v in list(alert.labels.items())[:_DESCRIPTION_LABELS]]
    return "\n".join(lines)


async def _unclassified(ctx: HandlerContext) -> Service:
    found = await ctx.uow.services.by_name(UNCLASSIFIED)
    if found is not None:
        return found
    return await ctx.uow.alerts.triage_service(
        UNCLASSIFIED, "Alerts on configuration items the CMDB does not know, for triage."
    )


async def _open(alert: Alert, ctx: HandlerContext) -> Ticket:
    service = await ctx.uow.services.by_name(alert.ci) if alert.ci else None
    # Impact stays that of an unknown CI; the service only says where triage finds it.
    home = service if service is not None else await _unclassified(ctx)
    urgent = urgency(alert.severity)
    # As for people's reports: a part takes the criticality of what depends on it.
    found = await impact_for(ctx.uow, service) if service is not None else None
    impact = prio.impact(found.criticality if found else None)
    priority = prio.priority(impact, urgent)
    ticket = await ctx.uow.tickets.create(
        kind=TicketKind.INCIDENT,
        title=title(alert.summary, alert.ci, known_service=service is not None),
        description=_description(alert),
        requester=ctx.person,
        status=Status.NEW,
        priority=priority,
        impact=impact,
        urgency=urgent,
        service_id=home.id,
        group_id=home.owner_group_id,
    )
    ctx.log(
        ticket,
        "created",
        priority=priority.value,
        impact=impact.value,
        urgency=urgent.value,
        service=home.name,
        source=alert.source,
        fingerprint=alert.fingerprint,
        ci=alert.ci or None,
    )
    await ctx.uow.alerts.record(
        alert.fingerprint,
        ticket,
        service_id=service.id if service else None,
        source=alert.source,
        seen_at=ctx.now,
    )
    if service is not None:
        await _gather_reports(ctx, ticket, service)
    if prio.is_major(priority):
        await announce_major(ctx, ticket, note="monitoring")
    if priority is Priority.P1:
        # A P1 opens a swarm without anyone declaring it: the record is what the swarm
        # channel and status updates hang on.
        await ctx.uow.major_incidents.declare(ticket, by_id=None, lead_id=None, at=ctx.now)
        ctx.log(ticket, "major_declared", source=alert.source)
    return ticket


def _repeat(row: AlertIncident, ctx: HandlerContext) -> None:
    # A counter, not a ticket event: a storm would otherwise bury the ticket's history.
    row.count += 1
    row.last_seen_at = ctx.now
    row.open = True


async def _resolve(alert: Alert, row: AlertIncident, ctx: HandlerContext) -> None:
    ticket = row.ticket
    row.open = False
    ticket.status = Status.RESOLVED
    ticket.resolved_at = ctx.now
    ticket.updated_at = ctx.now
    ctx.log(ticket, "resolved", note=f"The {alert.source} alert cleared.", count=row.count)
    await ended(ctx, ticket, tell_reports=False)
    # People whose reports joined the outage hear that it is over, where they reported it.
    for link in await ctx.uow.alerts.links(ticket.id):
        report = await ctx.uow.tickets.get(link.ticket_id) if link.linked_id == ticket.id else None
        if report is not None and lifecycle.is_open(report.status):
            ctx.notify_requester(
                report,
                Reply(
                    text=say(
                        language_of(report.requester, report),
                        "events.outage_over",
                        report=report.ref,
                        ref=ticket.ref,
                    ),
                    ticket_ref=report.ref,
                ),
            )


def _tell(alert: Alert, row: AlertIncident, ctx: HandlerContext) -> None:
    ticket = row.ticket
    row.open = False
    ctx.log(ticket, "alert_cleared", source=alert.source, count=row.count)
    lang = language_of(ticket.assignee)
    ctx.notify(
        ticket.assignee_id,
        Reply(
            text=say(lang, "events.cleared", source=alert.source, ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        ),
    )


async def _gather_reports(ctx: HandlerContext, outage: Ticket, service: Service) -> None:
    """Link people's open reports of the alert's outage to its new incident, telling each reporter.

    Reports count when made within `OUTAGE_WINDOW` on the alert's CI or on anything depending
    on it (transitively, through the CMDB).
    """
    services = [service.id, *await reach(ctx.uow, service.id)]
    for report in await ctx.uow.alerts.open_reports(services, ctx.now - OUTAGE_WINDOW):
        await ctx.uow.alerts.link(report, outage)
        ctx.log(outage, "report_linked", ref=report.ref)
        ctx.log(report, "linked", to=outage.ref, kind="known_outage")
        ctx.notify_requester(
            report,
            Reply(
                text=say(
                    language_of(report.requester, report),
                    "events.outage_found",
                    report=report.ref,
                    ref=outage.ref,
                ),
                ticket_ref=report.ref,
            ),
        )


async def link_to_outage(ctx: HandlerContext, ticket: Ticket) -> Ticket | None:
    """Link a person's new incident to an open alert incident it is part of; that incident.

    The alert incident may be on its service, or on an item it depends on or runs on (a few
    steps up the CMDB).

    The alert incident counts while its alert fires, and for `OUTAGE_WINDOW` after it was
    last seen.
    """
    if ticket.kind is not TicketKind.INCIDENT or ticket.service_id is None:
        return None
    services = await ctx.uow.alerts.upstream(ticket.service_id)
    row = await ctx.uow.alerts.open_for_service(services, ctx.now - OUTAGE_WINDOW)
    if row is None or row.ticket_id == ticket.id:
        return None
    outage = row.ticket
    await ctx.uow.alerts.link(ticket, outage)
    # Logged without an actor: a report joining the outage is not someone working on it.
    ctx.uow.tickets.log(
        outage,
        "report_linked",
        actor=None,
        channel=ctx.channel,
        inbox_id=ctx.inbox_id,
        ref=ticket.ref,
    )
    ctx.log(ticket, "linked", to=outage.ref, kind="known_outage")
    return outage
