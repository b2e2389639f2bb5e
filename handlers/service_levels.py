"""A ticket's service-level clock: chosen and computed at creation, kept on the ticket's columns.

`handlers.rules.sla` holds the rules; this module maps them onto tickets. The instants are
computed once (creation, priority change, pause, resume); `sla_next_at` is always the next
warning or breach still to act on, so a scheduler asks one indexed question
(`uow.desk.due(now)`) and, after acting, calls `advance`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.context import HandlerContext
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, Calendar, CalendarError, Duration, parse_duration
from store.enums import Priority, Role, Status, TicketKind
from store.models import BusinessCalendar, Service, ServiceLevel, Supplier, Ticket


def calendar_of(row: BusinessCalendar | None) -> Calendar:
    """The rule calendar of a stored one; no calendar is round the clock."""
    if row is None:
        return ALWAYS
    return Calendar.build(row.name, row.timezone, row.hours, row.holidays)


def _duration(text: object) -> Duration | None:
    return parse_duration(str(text)) if text else None


def targets_of(stored: dict[str, dict[str, str]]) -> dict[Priority, sla.Targets]:
    """Targets as the import stored them: `{"P1": {"response": "15m", "resolve": "4h"}}`."""
    return {
        Priority(p): sla.Targets(
            response=_duration(t.get("response")), resolve=_duration(t.get("resolve"))
        )
        for p, t in stored.items()
    }


def policy_of(row: ServiceLevel) -> sla.Policy:
    """The rule form of a stored agreement."""
    return sla.Policy(
        name=row.name,
        applies_to=sla.AppliesTo(row.organisation, row.kind, row.service),
        calendar=calendar_of(row.calendar),
        targets=targets_of(row.targets or {}),
    )


def supplier_policy(row: Supplier) -> sla.Policy:
    """A supplier's underpinning contract as a policy (its own calendar, else round the clock)."""
    return sla.Policy(
        name=row.name,
        applies_to=sla.AppliesTo(),
        calendar=calendar_of(row.calendar),
        targets=targets_of(row.targets or {}),
    )


def clock_of(ticket: Ticket) -> sla.Clock | None:
    """The clock stored on a ticket, or None when it has no agreement."""
    if ticket.sla_name is None:
        return None
    return sla.Clock(
        policy=ticket.sla_name,
        started_at=ticket.created_at,
        response_warn_at=ticket.response_warn_at,
        response_due_at=ticket.response_due_at,
        resolve_warn_at=ticket.resolve_warn_at,
        resolve_due_at=ticket.resolve_due_at,
        responded_at=ticket.responded_at,
        resolved_at=ticket.resolved_at,
        paused_at=ticket.sla_paused_at,
        paused_seconds=float(ticket.sla_paused_seconds or 0),
    )


def store(ticket: Ticket, clock: sla.Clock | None, now: datetime) -> None:
    """Write a clock onto the ticket's columns, with the next instant to act on after `now`."""
    for name, value in columns(clock, now).items():
        setattr(ticket, name, value)


def columns(clock: sla.Clock | None, now: datetime) -> dict[str, Any]:
    """A clock as the ticket columns `store` writes, for a ticket not inserted yet."""
    return {
        "sla_name": clock.policy if clock else None,
        "response_warn_at": clock.response_warn_at if clock else None,
        "response_due_at": clock.response_due_at if clock else None,
        "resolve_warn_at": clock.resolve_warn_at if clock else None,
        "resolve_due_at": clock.resolve_due_at if clock else None,
        "sla_paused_at": clock.paused_at if clock else None,
        "sla_paused_seconds": round(clock.paused_seconds) if clock else 0,
        "sla_next_at": sla.next_due(clock, now) if clock else None,
    }


async def _choose(
    ctx: HandlerContext, *, organisation: str | None, kind: TicketKind, service: str | None
) -> sla.Policy | None:
    rows = await ctx.uow.desk.service_levels()
    try:
        policies = [policy_of(r) for r in rows]
    except CalendarError:
        # The import validated every calendar; a row edited by hand since is not worth a
        # failed ticket. The ticket simply gets no clock.
        return None
    return sla.choose(policies, organisation=organisation, kind=kind, service=service)


async def policy_for(ctx: HandlerContext, ticket: Ticket) -> sla.Policy | None:
    """The agreement that covers a ticket (requester's organisation, kind, service)."""
    return await _choose(
        ctx,
        organisation=ticket.requester.organisation if ticket.requester else None,
        kind=ticket.kind,
        service=ticket.service.name if ticket.service else None,
    )


async def opening_clock(
    ctx: HandlerContext,
    *,
    kind: TicketKind,
    priority: Priority | None,
    service: Service | None,
    at: datetime,
) -> dict[str, Any]:
    """The clock columns of a ticket the asking person opens at `at`, before its INSERT.

    The agreement depends only on the requester, the kind and the service, so the row can
    go in with its clock rather than be updated right after; `note_clock` logs it once
    the ticket has been placed, as `start_clock` would have.
    """
    policy = await _choose(
        ctx,
        organisation=ctx.person.organisation,
        kind=kind,
        service=service.name if service else None,
    )
    return columns(sla.start(policy, priority, at) if policy else None, ctx.now)


def note_clock(ctx: HandlerContext, ticket: Ticket) -> sla.Clock | None:
    """Log the clock a ticket was opened with (`opening_clock`); None when it has none."""
    return _logged(ctx, ticket, clock_of(ticket))


def _logged(ctx: HandlerContext, ticket: Ticket, clock: sla.Clock | None) -> sla.Clock | None:
    if clock is not None:
        ctx.log(ticket, "sla", **_described(clock))
    return clock


async def start_clock(ctx: HandlerContext, ticket: Ticket) -> sla.Clock | None:
    """Give a new ticket its agreement and due times; None when nothing covers it."""
    policy = await policy_for(ctx, ticket)
    clock = sla.start(policy, ticket.priority, ticket.created_at) if policy else None
    store(ticket, clock, ctx.now)
    return _logged(ctx, ticket, clock)


async def restart_clock(ctx: HandlerContext, ticket: Ticket) -> sla.Clock | None:
    """After a priority change: the new priority's targets from the original start."""
    policy = await policy_for(ctx, ticket)
    current = clock_of(ticket)
    if policy is None:
        clock = None
    elif current is None:
        clock = sla.start(policy, ticket.priority, ticket.created_at)
    else:
        clock = sla.reprioritise(policy, ticket.priority, current)
    store(ticket, clock, ctx.now)
    return _logged(ctx, ticket, clock)


def advance(ticket: Ticket, now: datetime) -> None:
    """Move `sla_next_at` past `now`: after the scheduler acted, or a response or resolution."""
    clock = clock_of(ticket)
    ticket.sla_next_at = sla.next_due(clock, now) if clock else None


def responded(ticket: Ticket, now: datetime) -> None:
    """The first response (someone took the ticket) stops the response clock."""
    if ticket.responded_at is None:
        ticket.responded_at = now
        advance(ticket, now)


async def hold(ctx: HandlerContext, ticket: Ticket) -> None:
    """The ticket went on hold: its clock stops."""
    clock = clock_of(ticket)
    if clock is not None:
        store(ticket, sla.pause(clock, ctx.now), ctx.now)


async def resume(ctx: HandlerContext, ticket: Ticket) -> None:
    """The ticket came off hold: instants still ahead move by the working time on hold."""
    clock = clock_of(ticket)
    if clock is None or clock.paused_at is None:
        return
    row = await ctx.uow.desk.named(ServiceLevel, clock.policy)
    calendar = calendar_of(row.calendar) if row else ALWAYS
    store(ticket, sla.resume(clock, calendar, ctx.now), ctx.now)


_OPEN = (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD)
_ENDED = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED)


async def follow_update(
    ctx: HandlerContext,
    ticket: Ticket,
    *,
    status_before: Status,
    priority_before: Priority | None,
    changed: bool,
) -> None:
    """The clock after an update made outside chat (the REST API): as chat does it.

    On hold pauses the clock and leaving hold resumes it; a resolution stops it and a
    reopening starts the resolution clock again; a new priority re-targets it from the
    creation; the first agent action on someone else's ticket is the response.
    """
    now = ctx.now
    if status_before is Status.ON_HOLD and ticket.status is not Status.ON_HOLD:
        await resume(ctx, ticket)
    elif ticket.status is Status.ON_HOLD and status_before is not Status.ON_HOLD:
        await hold(ctx, ticket)
    if status_before in _ENDED and ticket.status in _OPEN:
        ticket.resolved_at = None
        advance(ticket, now)
    elif ticket.status in _ENDED:
        # Resolved, closed or cancelled: nothing is left to warn about.
        ticket.sla_next_at = None
    if ticket.priority is not priority_before:
        await restart_clock(ctx, ticket)
    if changed and ctx.person.has_role(Role.AGENT) and ctx.person.id != ticket.requester_id:
        responded(ticket, now)


def _described(clock: sla.Clock) -> dict[str, str | None]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "name": clock.policy,
        "response_due_at": iso(clock.response_due_at),
        "resolve_due_at": iso(clock.resolve_due_at),
    }
