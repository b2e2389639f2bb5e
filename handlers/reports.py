"""The desk's figures for a period: what `switchboard report` and the console's dashboard show."""

from __future__ import annotations

from datetime import datetime

from handlers.deflection import DEFLECTED
from handlers.rules.figures import ChangeDecision, Figures, TicketFacts, compute
from store.reports import TicketRow
from store.uow import UnitOfWork


def facts(row: TicketRow) -> TicketFacts:
    """The figures' view of a stored ticket."""
    return TicketFacts(
        kind=row.kind,
        status=row.status,
        created_at=row.created_at,
        priority=row.priority,
        group=row.group,
        channel=row.channel,
        service=row.service,
        responded_at=row.responded_at,
        resolved_at=row.resolved_at,
        has_sla=row.has_sla,
        response_due_at=row.response_due_at,
        resolve_due_at=row.resolve_due_at,
        paused_at=row.paused_at,
        assignments=row.actions.get("assigned", 0),
        reopened=row.actions.get("reopened", 0),
        escalated=row.actions.get("escalated", 0),
    )


async def desk_figures(uow: UnitOfWork, *, since: datetime, until: datetime) -> Figures:
    """Every figure for tickets opened in [since, until), and the backlog at `until`.

    Deflected: knowledge offers that answered the question, so no ticket was opened.
    Satisfaction is reported as "no data" until the desk records survey answers.
    """
    reports = uow.reports
    tickets = [facts(r) for r in await reports.tickets(since, until)]
    backlog = [facts(r) for r in await reports.open_tickets() if r.created_at < until]
    intents = await reports.message_intents(since, until)
    changes = [
        ChangeDecision(created_at=c.created_at, decided_at=c.decided_at)
        for c in await reports.change_decisions(since, until)
    ]
    offers = await uow.catalog.deflection_counts(since=since)
    deflected = sum(n for (_, outcome), n in offers.items() if outcome == DEFLECTED)
    return compute(
        since=since,
        until=until,
        tickets=tickets,
        open_tickets=backlog,
        intents=intents,
        changes=changes,
        satisfaction=None,
        deflected=deflected,
    )
