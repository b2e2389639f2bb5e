"""What a service-level clock does when its time comes: warn, breach and escalate, page, close.

The watcher (`bot.sla_watch`) finds the tickets and gives each its own unit of work; these
functions change the ticket, record the events and return who must be told. Nothing here
sends anything: the returned notifications go to the outbox in the same transaction, so a
lost race on the ticket's version loses the notifications with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from channels.conversation import Address, Button, ButtonStyle, Reply
from handlers import suppliers
from handlers.context import Outgoing
from handlers.replies import channel_language, language_of, say
from handlers.routing import on_call
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, Calendar, CalendarError, Duration, parse_duration
from handlers.service_levels import advance, calendar_of, clock_of
from handlers.sla_state import span
from handlers.tickets import agent_buttons, card
from store.enums import Priority, Status
from store.models import BusinessCalendar, Group, ServiceLevel, Ticket
from store.uow import UnitOfWork

CHANNEL = "sla"
"""The channel recorded on events the clocks cause: no person acted."""

DEFAULT_QUIET = Duration(days=3)
"""How long a resolved ticket stays resolved before it closes, when its agreement says nothing."""

PAGED = (Priority.P1, Priority.P2)
"""Priorities that page the on-call person when they arrive outside working hours."""

DEFAULT_ESCALATE_AFTER = "10m"
"""How long a page waits for an acknowledgement before the next person is paged."""

_TARGET_WORD = {sla.Target.RESPONSE: "response", sla.Target.RESOLVE: "resolution"}


def _log(uow: UnitOfWork, ticket: Ticket, action: str, now: datetime, **detail: Any) -> None:
    # The event carries the clock's `now`, so a test's injected time and the paging waits
    # measured from these events agree.
    event = uow.tickets.log(ticket, action, actor=None, channel=CHANNEL, **detail)
    event.at = now


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M UTC")


def _group_addresses(group: Group | None) -> list[Address]:
    if group is None:
        return []
    return [
        Address(channel=platform, conversation=chat, user="")
        for platform, chat in (("slack", group.slack_channel), ("telegram", group.telegram_chat))
        if chat
    ]


async def _person(uow: UnitOfWork, person_id: int | None) -> list[Address]:
    if person_id is None:
        return []
    found = await uow.desk.reach(person_id)
    return [Address.from_dict(found)] if found else []


async def _lang(uow: UnitOfWork, person_id: int | None, ticket: Ticket | None = None) -> str:
    """The language of the one person told."""
    person = await uow.people.get(person_id) if person_id is not None else None
    return language_of(person, ticket)


def _target(lang: str, word: str) -> str:
    return say(lang, f"sla.target.{word}")


def _send(addresses: Sequence[Address], reply: Reply) -> list[Outgoing]:
    return [Outgoing(reply=reply, address=a) for a in addresses]


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
    _log(uow, ticket, "sla_warning", now, target=word, due_at=due.isoformat())
    assignee = await _person(uow, ticket.assignee_id)
    to = assignee or _group_addresses(ticket.group)
    lang = (
        await _lang(uow, ticket.assignee_id)
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
            target=_target(lang, word),
            due=_hhmm(due),
            left=span((due - now).total_seconds(), lang),
            title=ticket.title,
        ),
        card=card(ticket, now, lang=lang),
        buttons=agent_buttons(ticket, lang),
        ticket_ref=ticket.ref,
    )
    return _send(to, reply)


async def breach(
    uow: UnitOfWork, ticket: Ticket, alert: sla.Alert, now: datetime
) -> list[Outgoing]:
    """A target missed: recorded on the ticket and escalated to the group's lead in person.

    Without a lead (or a way to reach them) the group's channels hear of it instead.
    """
    word = _TARGET_WORD[alert.target]
    _log(uow, ticket, "sla_breached", now, target=word, due_at=alert.at.isoformat())
    group = ticket.group
    lead = await uow.people.get(group.lead_id) if group and group.lead_id else None
    to = await _person(uow, lead.id) if lead else []
    if lead is not None and to:
        _log(
            uow, ticket, "escalated", now, to=lead.name, by="sla", reason=f"{word} target breached"
        )
    prio = f" ({ticket.priority.value})" if ticket.priority else ""
    lang = language_of(lead) if lead is not None and to else await channel_language(uow, group)
    team = say(lang, "sla.as_lead", group=group.name) if group and lead and to else ""
    fields = {
        "ref": ticket.ref,
        "prio": prio,
        "target": _target(lang, word),
        "due": _hhmm(alert.at),
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
    return _send(to or _group_addresses(group), reply)


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
        assignee = await _person(uow, ticket.assignee_id)
        lang = (
            await _lang(uow, ticket.assignee_id)
            if assignee
            else await channel_language(uow, ticket.group)
        )
        told = assignee or _group_addresses(ticket.group)
        notices = [("supplier_warning", "sla.supplier_close", w, d) for w, d in close]
        notices += [("supplier_breached", "sla.supplier_missed", w, d) for w, d in missed]
        for action, key, word, due in notices:
            _log(
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
                    target=_target(lang, word),
                    ref=ticket.ref,
                    due=_hhmm(due),
                    left=span((due - now).total_seconds(), lang),
                    title=ticket.title,
                ),
                card=card(ticket, now, lang=lang),
                buttons=agent_buttons(ticket, lang),
                ticket_ref=ticket.ref,
            )
            out += _send(told, reply)
    uow.desk.claim(ticket)
    return out


# -- closing resolved tickets -----------------------------------------------------------------


async def _agreement(uow: UnitOfWork, ticket: Ticket) -> ServiceLevel | None:
    return await uow.desk.named(ServiceLevel, ticket.sla_name) if ticket.sla_name else None


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
    row = await _agreement(uow, ticket)
    calendar = calendar_of(row.calendar) if row else ALWAYS
    return calendar.add_duration(ticket.resolved_at, _quiet(row))


async def close_if_quiet(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Close a ticket left resolved for its quiet period; a reopened one is left alone."""
    if ticket.status is not Status.RESOLVED:
        return []
    at = await closes_at(uow, ticket)
    if at is None or at > now:
        return []
    row = await _agreement(uow, ticket)
    ticket.status = Status.CLOSED
    ticket.closed_at = now
    ticket.updated_at = now
    ticket.sla_next_at = None
    _log(uow, ticket, "closed", now, by="auto-close", quiet=str(_quiet(row)))
    lang = await _lang(uow, ticket.requester_id, ticket)
    reply = Reply(
        text=say(lang, "sla.closed", ref=ticket.ref),
        card=card(ticket, now, lang=lang),
        ticket_ref=ticket.ref,
    )
    if ticket.origin:
        return [Outgoing(reply=reply, address=Address.from_dict(ticket.origin))]
    return [Outgoing(reply=reply, person_id=ticket.requester_id)]


# -- on-call paging ---------------------------------------------------------------------------


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
        agreement = await _agreement(uow, ticket)
        row = agreement.calendar if agreement else None
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
    _log(uow, ticket, "paged", now, to=person.name, step=len(pages) + 1)
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
    return _send(await _person(uow, person.id), reply)
