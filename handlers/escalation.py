"""What a service-level clock does when its time comes: warn, breach and escalate, page, close.

The watcher (`bot.sla_watch`) finds the tickets and gives each its own unit of work; these
functions change the ticket, record the events and return who must be told. Nothing here
sends anything: the returned notifications go to the outbox in the same transaction, so a
lost race on the ticket's version loses the notifications with it.

This module holds the warnings, breaches and suppliers' targets; closing resolved tickets
lives in `handlers.auto_close`, on-call paging in `handlers.paging`, and how the notices are
recorded and addressed in `handlers.sla_notices`. The watcher reads them all from here.
"""

from __future__ import annotations

from datetime import datetime

from channels.conversation import Reply
from handlers import suppliers
from handlers.auto_close import DEFAULT_QUIET, close_if_quiet, closes_at, quiet_floor, wall_floor
from handlers.context import Outgoing
from handlers.paging import DEFAULT_ESCALATE_AFTER, PAGED, escalate_after, page, paging_order
from handlers.replies import channel_language, language_of, say
from handlers.rules import sla
from handlers.service_levels import advance, clock_of
from handlers.sla_notices import (
    CHANNEL,
    group_addresses,
    hhmm,
    person_addresses,
    person_language,
    record,
    send,
    target_name,
)
from handlers.sla_state import span
from handlers.tickets import agent_buttons, card
from store.enums import Status
from store.models import Ticket
from store.uow import UnitOfWork

__all__ = [
    "CHANNEL",
    "DEFAULT_ESCALATE_AFTER",
    "DEFAULT_QUIET",
    "PAGED",
    "act_on_clock",
    "act_on_suppliers",
    "breach",
    "close_if_quiet",
    "closes_at",
    "due_alerts",
    "escalate_after",
    "page",
    "paging_order",
    "quiet_floor",
    "wall_floor",
    "warn",
]

_TARGET_WORD = {sla.Target.RESPONSE: "response", sla.Target.RESOLVE: "resolution"}


# -- warnings, breaches and escalation --------------------------------------------------------


def due_alerts(ticket: Ticket, now: datetime) -> list[sla.Alert]:
    """The alerts to act on now: per target only the latest stage reached since `sla_next_at`.

    A watcher that was down past both the warning and the breach reports the breach alone.
    """
    clock = clock_of(ticket)
    seen = ticket.sla_next_at
    if clock is None or seen is None:
        return []
    latest: dict[sla.Target, sla.Alert] = {}
    for alert in sla.alerts(clock):
        if seen <= alert.at <= now:
            latest[alert.target] = alert
    return sorted(latest.values(), key=lambda a: a.at)


async def act_on_clock(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Warn or breach-and-escalate for every alert due, then move `sla_next_at` past `now`."""
    out: list[Outgoing] = []
    clock = clock_of(ticket)
    for alert in due_alerts(ticket, now):
        if clock is not None and alert.stage is sla.Stage.WARNING:
            due = clock.instants(alert.target)[1] or alert.at
            out += await warn(uow, ticket, alert, due, now)
        else:
            out += await breach(uow, ticket, alert, now)
    advance(ticket, now)
    uow.desk.claim(ticket)
    return out


async def warn(
    uow: UnitOfWork, ticket: Ticket, alert: sla.Alert, due: datetime, now: datetime
) -> list[Outgoing]:
    """75 % of a target used: tell the assignee, or the group's channels when nobody has it."""
    word = _TARGET_WORD[alert.target]
    record(uow, ticket, "sla_warning", now, target=word, due_at=due.isoformat())
    assignee = await person_addresses(uow, ticket.assignee_id)
    to = assignee or group_addresses(ticket.group)
    lang = (
        await person_language(uow, ticket.assignee_id)
        if assignee
        else await channel_language(uow, ticket.group)
    )
    prio = f" ({ticket.priority.value})" if ticket.priority else ""
    reply = Reply(
        text=say(
            lang,
            "sla.warn",
            ref=ticket.ref,
            prio=prio,
            target=target_name(lang, word),
            due=hhmm(due),
            left=span((due - now).total_seconds(), lang),
            title=ticket.title,
        ),
        card=card(ticket, now, lang=lang),
        buttons=agent_buttons(ticket, lang),
        ticket_ref=ticket.ref,
    )
    return send(to, reply)


async def breach(
    uow: UnitOfWork, ticket: Ticket, alert: sla.Alert, now: datetime
) -> list[Outgoing]:
    """A target missed: recorded on the ticket and escalated to the group's lead in person.

    Without a lead (or a way to reach them) the group's channels hear of it instead.
    """
    word = _TARGET_WORD[alert.target]
    record(uow, ticket, "sla_breached", now, target=word, due_at=alert.at.isoformat())
    group = ticket.group
    lead = await uow.people.get(group.lead_id) if group and group.lead_id else None
    to = await person_addresses(uow, lead.id) if lead else []
    if lead is not None and to:
        record(
            uow, ticket, "escalated", now, to=lead.name, by="sla", reason=f"{word} target breached"
        )
    prio = f" ({ticket.priority.value})" if ticket.priority else ""
    lang = language_of(lead) if lead is not None and to else await channel_language(uow, group)
    team = say(lang, "sla.as_lead", group=group.name) if group and lead and to else ""
    fields = {
        "ref": ticket.ref,
        "prio": prio,
        "target": target_name(lang, word),
        "due": hhmm(alert.at),
        "title": ticket.title,
    }
    reply = Reply(
        text=say(lang, "sla.breached_to_you", team=team, **fields)
        if to
        else say(lang, "sla.breached", **fields),
        card=card(ticket, now, lang=lang),
        buttons=agent_buttons(ticket, lang),
        ticket_ref=ticket.ref,
    )
    return send(to or group_addresses(group), reply)


# -- suppliers' contracts ---------------------------------------------------------------------

_ENDED = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


async def act_on_suppliers(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Warn at 75 % of a supplier's target and report a missed one, apart from our own clock.

    The assignee is told, or the group's channels with nobody assigned. A watcher that was
    away past both instants of a target reports the miss alone. A hand-off ends when the
    ticket is resolved: what was still ahead then is never reported.
    """
    out: list[Outgoing] = []
    for handoff in await uow.desk.due_handoffs(ticket.id, now):
        if ticket.status in _ENDED:
            handoff.ended_at = handoff.ended_at or ticket.resolved_at or now
            handoff.next_at = None
            continue
        seen = handoff.next_at
        if seen is None:
            continue
        targets = suppliers.instants(handoff)
        missed = [(word, due) for word, _, due in targets if due is not None and seen <= due <= now]
        close = [
            (word, due)
            for word, warn, due in targets
            if warn is not None and due is not None and seen <= warn <= now < due
        ]
        handoff.next_at = suppliers.next_due(handoff, now)
        contract = f" ({handoff.contract})" if handoff.contract else ""
        assignee = await person_addresses(uow, ticket.assignee_id)
        lang = (
            await person_language(uow, ticket.assignee_id)
            if assignee
            else await channel_language(uow, ticket.group)
        )
        told = assignee or group_addresses(ticket.group)
        notices = [("supplier_warning", "sla.supplier_close", w, d) for w, d in close]
        notices += [("supplier_breached", "sla.supplier_missed", w, d) for w, d in missed]
        for action, key, word, due in notices:
            record(
                uow,
                ticket,
                action,
                now,
                supplier=handoff.supplier,
                contract=handoff.contract,
                target=word,
                due_at=due.isoformat(),
            )
            reply = Reply(
                text=say(
                    lang,
                    key,
                    supplier=handoff.supplier,
                    contract=contract,
                    target=target_name(lang, word),
                    ref=ticket.ref,
                    due=hhmm(due),
                    left=span((due - now).total_seconds(), lang),
                    title=ticket.title,
                ),
                card=card(ticket, now, lang=lang),
                buttons=agent_buttons(ticket, lang),
                ticket_ref=ticket.ref,
            )
            out += send(told, reply)
    uow.desk.claim(ticket)
    return out
