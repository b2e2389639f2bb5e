"""On-call paging: an urgent ticket that arrives outside working hours pages people in turn.

The person on call first, then the rest of the weekly rota, then the group's lead, each once,
the next only when the rota's `escalate_after` passed without anyone taking the ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply
from handlers.context import Outgoing
from handlers.replies import language_of, say
from handlers.routing import on_call
from handlers.rules.calendar import ALWAYS, Calendar, CalendarError, parse_duration
from handlers.service_levels import calendar_of
from handlers.sla_notices import agreement, person_addresses, record, send
from handlers.tickets import card
from store.enums import Priority, Status
from store.models import BusinessCalendar, Ticket
from store.uow import UnitOfWork

PAGED = (Priority.P1, Priority.P2)
"""Priorities that page the on-call person when they arrive outside working hours."""

DEFAULT_ESCALATE_AFTER = "10m"
"""How long a page waits for an acknowledgement before the next person is paged."""


def escalate_after(rota: Mapping[str, Any]) -> timedelta:
    """The rota's `escalate_after` as wall time (default 10 minutes)."""
    try:
        d = parse_duration(str(rota.get("escalate_after") or DEFAULT_ESCALATE_AFTER))
    except CalendarError:
        d = parse_duration(DEFAULT_ESCALATE_AFTER)
    return timedelta(days=d.days, seconds=d.seconds)


def paging_order(rota: Mapping[str, Any], at: datetime, lead: str | None) -> list[str]:
    """Who is paged, in turn, each once.

    First the person on call at `at`, then the rest of the weekly rota after them, then the
    group's lead.
    """
    first = on_call(rota, at)
    weekly = [str(e) for e in rota.get("weekly") or ()]
    if first in weekly:
        i = weekly.index(first)
        weekly = weekly[i:] + weekly[:i]
    order: list[str] = []
    for email in [first, *weekly, lead]:
        if email and email.casefold() not in (o.casefold() for o in order):
            order.append(email)
    return order


async def _hours(uow: UnitOfWork, ticket: Ticket, rota: Mapping[str, Any]) -> Calendar:
    name = rota.get("calendar")
    row = await uow.desk.named(BusinessCalendar, str(name)) if name else None
    if row is None:
        found = await agreement(uow, ticket)
        row = found.calendar if found else None
    try:
        return calendar_of(row)
    except CalendarError:
        return ALWAYS


async def page(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Page the next person for an urgent ticket that arrived outside working hours.

    Nothing happens once someone takes the ticket (the Acknowledge button takes it), inside
    working hours, before the wait since the last page is over, or when everyone was paged.
    """
    group = ticket.group
    rota = group.oncall if group else None
    if (
        not rota
        or ticket.priority not in PAGED
        or ticket.status is not Status.NEW
        or ticket.responded_at is not None
    ):
        return []
    hours = await _hours(uow, ticket, rota)
    if hours.next_working(ticket.created_at) <= ticket.created_at:
        return []
    pages = [e for e in await uow.tickets.events(ticket.id) if e.action == "paged"]
    if pages and now < pages[-1].at + escalate_after(rota):
        return []
    lead = await uow.people.get(group.lead_id) if group and group.lead_id else None
    order = paging_order(rota, ticket.created_at, lead.email if lead else None)
    if len(pages) >= len(order):
        return []
    person = await uow.people.by_email(order[len(pages)])
    if person is None:
        return []
    record(uow, ticket, "paged", now, to=person.name, step=len(pages) + 1)
    uow.desk.claim(ticket)
    lang = language_of(person)
    reply = Reply(
        text=say(
            lang,
            "sla.paging",
            ref=ticket.ref,
            priority=ticket.priority.value if ticket.priority else "",
            title=ticket.title,
        ),
        card=card(ticket, now, lang=lang),
        buttons=(
            Button(
                label=say(lang, "sla.acknowledge"),
                action="assign_me",
                value=ticket.ref,
                style=ButtonStyle.PRIMARY,
            ),
        ),
        ticket_ref=ticket.ref,
    )
    return send(await person_addresses(uow, person.id), reply)
