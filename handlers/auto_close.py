"""Closing resolved tickets: a ticket left resolved for its agreement's quiet period closes.

The quiet period is the agreement's `close_after` on its calendar (three days without one);
the watcher (`bot.sla_watch`) only looks at tickets resolved before the shortest of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from channels.conversation import Address, Reply
from handlers.context import Outgoing
from handlers.replies import say
from handlers.rules.calendar import ALWAYS, CalendarError, Duration, parse_duration
from handlers.service_levels import calendar_of
from handlers.sla_notices import agreement, person_language, record
from handlers.tickets import card
from store.enums import Status
from store.models import ServiceLevel, Ticket
from store.uow import UnitOfWork

DEFAULT_QUIET = Duration(days=3)
"""How long a resolved ticket stays resolved before it closes, when its agreement says nothing."""


def _quiet(row: ServiceLevel | None) -> Duration:
    try:
        return parse_duration(row.close_after) if row and row.close_after else DEFAULT_QUIET
    except CalendarError:
        return DEFAULT_QUIET


def wall_floor(duration: Duration) -> timedelta:
    """The least wall time a duration can take on any calendar (a DST day has 23 hours)."""
    return timedelta(hours=23 * duration.days, seconds=duration.seconds)


async def quiet_floor(uow: UnitOfWork) -> timedelta:
    """The shortest quiet period any agreement allows.

    Tickets resolved earlier than `now` minus this are all the watcher must look at.
    """
    quiet = [_quiet(row) for row in await uow.desk.service_levels()] + [DEFAULT_QUIET]
    return min(wall_floor(q) for q in quiet)


async def closes_at(uow: UnitOfWork, ticket: Ticket) -> datetime | None:
    """When a resolved ticket closes: its agreement's `close_after` on its calendar."""
    if ticket.resolved_at is None:
        return None
    row = await agreement(uow, ticket)
    calendar = calendar_of(row.calendar) if row else ALWAYS
    return calendar.add_duration(ticket.resolved_at, _quiet(row))


async def close_if_quiet(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Close a ticket left resolved for its quiet period; a reopened one is left alone."""
    if ticket.status is not Status.RESOLVED:
        return []
    at = await closes_at(uow, ticket)
    if at is None or at > now:
        return []
    row = await agreement(uow, ticket)
    ticket.status = Status.CLOSED
    ticket.closed_at = now
    ticket.updated_at = now
    ticket.sla_next_at = None
    record(uow, ticket, "closed", now, by="auto-close", quiet=str(_quiet(row)))
    lang = await person_language(uow, ticket.requester_id, ticket)
    reply = Reply(
        text=say(lang, "sla.closed", ref=ticket.ref),
        card=card(ticket, now, lang=lang),
        ticket_ref=ticket.ref,
    )
    if ticket.origin:
        return [Outgoing(reply=reply, address=Address.from_dict(ticket.origin))]
    return [Outgoing(reply=reply, person_id=ticket.requester_id)]
