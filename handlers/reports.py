"""The desk's figures for a period: what `switchboard report` and the console's dashboard show."""

from __future__ import annotations

import asyncio
from datetime import datetime

from handlers.deflection import DEFLECTED
from handlers.rules.figures import (
    ChangeDecision,
    Figures,
    Mood,
    Satisfaction,
    SupplierTarget,
    TicketFacts,
    compute,
)
from store.reports import TicketRow
from store.surveys import satisfaction as survey_answers
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


async def moods(rows: list[tuple[str, str | None, str]]) -> list[Mood]:
    """The sentiment of each ticket's opening words, read off the event loop."""
    if not rows:
        return []
    from nlu.sentiment import analyse

    found = await asyncio.to_thread(analyse, [text for _, _, text in rows])
    return [
        Mood(ref=ref, channel=channel, label=s.label, score=s.score)
        for (ref, channel, _), s in zip(rows, found, strict=True)
    ]


async def desk_figures(
    uow: UnitOfWork, *, since: datetime, until: datetime, sentiment: bool = True
) -> Figures:
    """Every figure for tickets opened in [since, until), and the backlog at `until`.

    Deflected: knowledge offers that answered the question, so no ticket was opened.
    Satisfaction: survey answers (1-5) given in the period, by group and channel.
    Suppliers: hand-offs made in the period, judged on their contract's resolution target.
    Sentiment (unless `sentiment` is False): the opening words of the period's incidents and
    requests (the newest 2,000), read by the sentiment model.
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
    answers = await survey_answers(uow.session, since=since, until=until)
    scores = [Satisfaction(score=a.rating, group=a.group, channel=a.channel) for a in answers]
    handed = [
        SupplierTarget(supplier=name, resolve_due_at=due, ended_at=ended)
        for name, due, ended in await reports.supplier_handoffs(since, until)
    ]
    read = await moods(await reports.opening_words(since, until)) if sentiment else None
    return compute(
        since=since,
        until=until,
        tickets=tickets,
        open_tickets=backlog,
        intents=intents,
        changes=changes,
        satisfaction=scores,
        deflected=deflected,
        supplier_targets=handed,
        moods=read,
    )
