"""Putting a change on the calendar: its window, freezes, collisions and risk; standard changes.

A change is scheduled into a window that lies within its release's, past the freezes it may
enter (an extra approver lets a normal change into one), and is flagged, with everyone who
agreed to either window told, when it collides with another change on what it touches or
depends on. A standard change is raised from its template approved and scheduled at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.conversation import Reply
from handlers.change_refusals import ChangeError, Refused, may_work, span_of, stage_after
from handlers.cmdb import reach
from handlers.context import HandlerContext
from handlers.errors import Said
from handlers.replies import language_of, say
from handlers.rules import freeze
from handlers.rules import releases as release_rules
from handlers.rules.calendar import CalendarError, parse_duration
from handlers.rules.change_risk import Risk, risk_of
from handlers.rules.change_stages import Step
from handlers.rules.freeze import Freeze, FreezeVerdict, Planned, Window
from handlers.tickets import card
from store.changes import ChangePlan, FreezeWindow, StandardChange
from store.enums import ChangeType, Criticality, Decision, Role, Status, TicketKind
from store.models import Person, Service, Ticket
from store.uow import UnitOfWork

DEFAULT_LENGTH = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A change put on the calendar, the changes it collides with and the freeze it entered."""

    ticket: Ticket
    plan: ChangePlan
    collisions: list[Planned]
    freeze_override: str | None
    risk: Risk = Risk.MEDIUM


def as_freeze(row: FreezeWindow) -> Freeze:
    """A stored freeze window as the freeze rule reads it, its services compared by folded case."""
    return Freeze(
        name=row.name,
        span=Window(row.starts_at, row.ends_at),
        items=frozenset(str(s).casefold() for s in row.services),
    )


async def _items(ctx: HandlerContext, ticket: Ticket, names: Sequence[str] | None) -> list[Service]:
    if names is None:
        stored = (await ctx.uow.changes.items([ticket.id])).get(ticket.id)
        if stored:
            found = [await ctx.uow.session.get(Service, sid) for sid, _ in stored]
            return [s for s in found if s is not None]
        return [ticket.service] if ticket.service else []
    items = []
    for name in names:
        ci = await ctx.uow.cmdb.by_name(name)
        if ci is None:
            raise ChangeError(Refused.BAD_INPUT, Said("change.refused.unknown_ci", name=repr(name)))
        items.append(ci)
    return items


async def risk(uow: UnitOfWork, ticket: Ticket, touched: Sequence[Service]) -> Risk:
    """The change's risk, from its type and what it touches (`handlers.rules.change_risk`).

    Counted are the criticality of the items it touches and of every service that depends on them.
    """
    near: set[int] = set()
    for item in touched:
        near |= set(await reach(uow, item.id))
    levels = [Criticality(ci.criticality) for ci in touched]
    levels += [
        Criticality(n.criticality) for n in await uow.cmdb.nodes(near - {t.id for t in touched})
    ]
    return risk_of(ticket.change_type or ChangeType.NORMAL, levels)


async def planned(
    uow: UnitOfWork, tickets: Sequence[Ticket], reached: dict[int, set[int]] | None = None
) -> list[Planned]:
    """Changes with a window as the collision rule sees them.

    Each brings the items it touches (the change's service when it names none) and everything
    that depends on them.
    """
    cache = {} if reached is None else reached
    touched = await uow.changes.items([t.id for t in tickets])
    out = []
    for t in tickets:
        if t.planned_start is None or t.planned_end is None:
            continue
        ids = {sid for sid, _ in touched.get(t.id, [])}
        if not ids and t.service_id is not None:
            ids.add(t.service_id)
        near: set[int] = set()
        for item in ids:
            if item not in cache:
                cache[item] = set(await reach(uow, item))
            near |= cache[item]
        span = Window(t.planned_start, t.planned_end)
        out.append(Planned(t.ref, span, frozenset(ids), frozenset(near)))
    return out


async def _collisions(ctx: HandlerContext, ticket: Ticket, span: Window) -> list[Planned]:
    others = await ctx.uow.changes.scheduled_between(span.start, span.end)
    if ticket not in others:
        others.append(ticket)
    found = await planned(ctx.uow, others)
    mine = next(p for p in found if p.ref == ticket.ref)
    return freeze.collisions(mine, found)


async def calendar_collisions(uow: UnitOfWork, tickets: Sequence[Ticket]) -> dict[str, list[str]]:
    """For each change on a calendar page, the others on it that it collides with."""
    found = await planned(uow, tickets)
    return {p.ref: [o.ref for o in freeze.collisions(p, found)] for p in found}


async def _enter_freeze(
    ctx: HandlerContext,
    ticket: Ticket,
    plan: ChangePlan,
    hits: Sequence[Freeze],
    *,
    unscoped: bool = False,
) -> str | None:
    change_type = ticket.change_type or ChangeType.NORMAL
    found = freeze.verdict(change_type, hits)
    if found is FreezeVerdict.CLEAR:
        return None
    if found is FreezeVerdict.REFUSED:
        raise ChangeError(
            Refused.CONFLICT, freeze.refusal_said(ticket.ref, hits, unscoped=unscoped)
        )
    names = ", ".join(f.name for f in hits)
    # The extra approver is the person scheduling it into the freeze: an approver who has
    # neither requested nor already approved this change.
    ballots = await ctx.uow.tickets.approvals(ticket.id)
    if (
        not ctx.person.has_role(Role.APPROVER)
        or ctx.person.id == ticket.requester_id
        or any(b.approver_id == ctx.person.id for b in ballots)
    ):
        raise ChangeError(
            Refused.FORBIDDEN, Said("change.refused.freeze_second", ref=ticket.ref, names=names)
        )
    await ctx.uow.tickets.add_approval(
        ticket,
        ctx.person,
        Decision.APPROVED,
        comment=f"freeze override: {names}",
        channel=ctx.channel,
    )
    plan.review_required = True
    return names


async def schedule(
    ctx: HandlerContext,
    ticket: Ticket,
    start: datetime | None,
    end: datetime | None,
    *,
    items: Sequence[str] | None = None,
    backout_plan: str | None = None,
) -> Scheduled:
    """Put an approved change on the calendar, checking freezes and flagging collisions."""
    may_work(ctx, ticket)
    plan = await ctx.uow.changes.plan(ticket)
    stage = stage_after(ticket, plan, Step.SCHEDULE)
    span = span_of(start, end)
    release = await ctx.uow.releases.of_change(ticket.id)
    if release is not None:
        within = Window(release.starts_at, release.ends_at)
        if release_rules.outside(within, span.start, span.end):
            raise ChangeError(
                Refused.CONFLICT,
                Said(
                    "change.refused.in_release",
                    ref=ticket.ref,
                    name=release.name,
                    why=release_rules.outside_said(ticket.ref, span.start, span.end, within),
                ),
            )
    touched = await _items(ctx, ticket, items)
    names = [ci.name for ci in touched]
    freezes = [as_freeze(f) for f in await ctx.uow.changes.freezes_between(span.start, span.end)]
    hits = freeze.freezes_hit(span, names, freezes)
    override = await _enter_freeze(ctx, ticket, plan, hits, unscoped=not names)
    if items is not None or touched and not (await ctx.uow.changes.items([ticket.id])):
        await ctx.uow.changes.set_items(ticket, touched)
    if backout_plan is not None:
        plan.backout_plan = backout_plan
    plan.stage = stage
    plan.freeze_override = override or plan.freeze_override
    plan.updated_at = ctx.now
    ticket.planned_start, ticket.planned_end = span.start, span.end
    ticket.updated_at = ctx.now
    await ctx.uow.flush()
    clash = await _collisions(ctx, ticket, span)
    level = await risk(ctx.uow, ticket, touched)
    ctx.log(
        ticket,
        "scheduled",
        start=span.start.isoformat(),
        end=span.end.isoformat(),
        items=names or None,
        risk=level.value,
        freeze_override=override,
        collides_with=[c.ref for c in clash] or None,
    )
    if clash:
        await _warn(ctx, ticket, clash)
    return Scheduled(ticket, plan, clash, override, level)


async def _warn(ctx: HandlerContext, ticket: Ticket, clash: Sequence[Planned]) -> None:
    refs = ", ".join(c.ref for c in clash)

    def note(lang: str = "en") -> Reply:
        return Reply(
            text=say(lang, "lifecycle.overlaps", ref=ticket.ref, refs=refs),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )

    ctx.notify_requester(ticket, note(language_of(ticket.requester, ticket)))
    told = {ticket.requester_id}
    involved = [ticket]
    for c in clash:
        other = await ctx.uow.tickets.by_ref(c.ref)
        if other is not None:
            involved.append(other)
            told.add(other.requester_id)
            told_in = language_of(other.requester, other)
            ctx.notify_requester(
                other,
                Reply(
                    text=say(told_in, "lifecycle.overlaps", ref=other.ref, refs=ticket.ref),
                    card=card(other, lang=told_in),
                    ticket_ref=other.ref,
                ),
            )
    # The people who approved either change hear it personally too: the approvals channel
    # may not be configured, and they agreed to a window that now clashes.
    approvers: dict[int, None] = {}
    for t in involved:
        for a in await ctx.uow.tickets.approvals(t.id):
            if a.decision is Decision.APPROVED and a.approver_id not in told:
                approvers[a.approver_id] = None
    for person_id in approvers:
        ctx.notify(person_id, note(language_of(await ctx.uow.session.get(Person, person_id))))
    ctx.announce("approvals", note())


async def standard_named(ctx: HandlerContext, name: str) -> StandardChange | None:
    """The standard change template of that name, in any case; None when the desk has none."""
    wanted = name.strip().casefold()
    return next((s for s in await ctx.uow.changes.standards() if s.name.casefold() == wanted), None)


async def raise_standard(
    ctx: HandlerContext, template: StandardChange, start: datetime
) -> Scheduled:
    """A standard change from its template: approved on creation (recorded), then scheduled."""
    try:
        took = parse_duration(template.duration)
        # A change window runs on the clock: a day of a template is 24 hours.
        length = timedelta(days=took.days, seconds=took.seconds)
    except CalendarError:
        length = DEFAULT_LENGTH
    items = [str(s) for s in template.services]
    first = await ctx.uow.cmdb.by_name(items[0]) if items else None
    ticket = await ctx.uow.tickets.create(
        kind=TicketKind.CHANGE,
        title=template.name[:300],
        description=template.description or template.name,
        requester=ctx.person,
        status=Status.APPROVED,
        change_type=ChangeType.STANDARD,
        service_id=first.id if first else None,
        group_id=first.owner_group_id if first else None,
        origin=ctx.address.to_dict(),
        updated_at=ctx.now,
    )
    ctx.log(ticket, "created", change_type=ChangeType.STANDARD.value, standard=template.name)
    plan = await ctx.uow.changes.plan(ticket)
    plan.standard = template.name
    plan.backout_plan = template.backout_plan
    return await schedule(ctx, ticket, start, start + length, items=items)
