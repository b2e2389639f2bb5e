"""Where a new ticket goes: a group, and within a group that auto-assigns, a person.

The rules are pure functions over plain values; `place` reads what they need from the unit of
work and writes the outcome on the ticket, as events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.replies import channel_language, language_of, say
from handlers.rules.calendar import DAYS
from handlers.tickets import agent_buttons, card
from store.models import Group, Service, Ticket


@dataclass(frozen=True, slots=True)
class Candidate:
    """A group member as routing weighs them."""

    person_id: int
    skills: frozenset[str]
    open_tickets: int


@dataclass(frozen=True, slots=True)
class Placement:
    """The outcome: the group (None when there is no group to give it to) and maybe a person."""

    group_id: int | None
    assignee_id: int | None = None
    matched: tuple[str, ...] = ()


def wanted_skills(
    service: str | None, aliases: Iterable[str] = (), skills: Iterable[str] = ()
) -> frozenset[str]:
    """The skills a ticket asks for: the service's own list, else its name and aliases."""
    listed = {s.casefold() for s in skills}
    if listed:
        return frozenset(listed)
    names = [service, *aliases] if service else []
    return frozenset(n.casefold() for n in names if n)


def choose_group(owner_group_id: int | None, default_group_id: int | None) -> int | None:
    """The service's owner group, else the service desk."""
    return owner_group_id if owner_group_id is not None else default_group_id


def choose_assignee(candidates: Sequence[Candidate], wanted: frozenset[str]) -> Candidate | None:
    """The member with the most wanted skills, then the fewest open tickets.

    Ties go to the member who joined the directory first, so the choice is repeatable.
    """
    if not candidates:
        return None
    return min(candidates, key=lambda c: (-len(c.skills & wanted), c.open_tickets, c.person_id))


def route(
    *,
    owner_group_id: int | None,
    default_group_id: int | None,
    auto_assign: bool,
    candidates: Sequence[Candidate],
    wanted: frozenset[str],
) -> Placement:
    """The whole rule: group first, then a person when the group auto-assigns."""
    group = choose_group(owner_group_id, default_group_id)
    if group is None or not auto_assign:
        return Placement(group_id=group)
    pick = choose_assignee(candidates, wanted)
    if pick is None:
        return Placement(group_id=group)
    return Placement(
        group_id=group, assignee_id=pick.person_id, matched=tuple(sorted(pick.skills & wanted))
    )


def on_call(rota: Mapping[str, Any], at: datetime) -> str | None:
    """Who is on call at `at` by a group's `oncall:` rota (the desk file's shape).

    Dated cover wins; otherwise the weekly list turns over at `handover` (a weekday and time
    in `timezone`), the first person's week beginning on `starts`.
    """
    tz = ZoneInfo(str(rota.get("timezone") or "UTC"))
    local = at.astimezone(tz)
    for cover in rota.get("dates") or ():
        if date.fromisoformat(cover["from"]) <= local.date() <= date.fromisoformat(cover["to"]):
            return str(cover["person"])
    weekly = list(rota.get("weekly") or ())
    if not weekly or not rota.get("starts"):
        return None
    day, clock = str(rota.get("handover") or "Mon 09:00").split()
    hour, minute = (int(x) for x in clock.split(":"))
    starts = date.fromisoformat(str(rota["starts"]))
    # The first handover on or after `starts` that falls on the handover weekday.
    offset = (DAYS.index(day.lower()[:3]) - starts.weekday()) % 7
    first = datetime.combine(starts + timedelta(days=offset), time(hour, minute), tzinfo=tz)
    weeks = (local.replace(tzinfo=None) - first.replace(tzinfo=None)) // timedelta(weeks=1)
    return str(weekly[weeks % len(weekly)])


async def place(ctx: HandlerContext, ticket: Ticket, service: Service | None) -> Placement:
    """Give a new ticket its group and, when the group auto-assigns, its assignee."""
    desk = ctx.uow.desk
    owner = service.owner_group_id if service else None
    default = await desk.default_group() if owner is None else None
    group_id = choose_group(owner, default.id if default else None)
    group = await desk.group(group_id) if group_id is not None else None
    candidates: list[Candidate] = []
    if group is not None and group.auto_assign:
        candidates = [
            Candidate(m.person_id, m.skills, m.open_tickets) for m in await desk.members(group.id)
        ]
    wanted = wanted_skills(
        service.name if service else ticket.catalog_item,
        (service.aliases or []) if service else (),
        (service.skills or []) if service else (),
    )
    placement = route(
        owner_group_id=owner,
        default_group_id=default.id if default else None,
        auto_assign=bool(group and group.auto_assign),
        candidates=candidates,
        wanted=wanted,
    )
    if group is not None and ticket.group_id != group.id:
        # The owner group is set when the ticket is opened; only a fallback is news.
        previous = ticket.group_id
        ticket.group_id = group.id
        ticket.group = group
        ctx.log(ticket, "routed", group=group.name, previous_group_id=previous)
    if placement.assignee_id is not None:
        person = await ctx.uow.people.get(placement.assignee_id)
        if person is not None:
            ticket.assignee_id = person.id
            ticket.assignee = person
            ctx.log(
                ticket,
                "assigned",
                to=person.name,
                previous=None,
                by="auto-assign",
                skills=list(placement.matched),
            )
            lang = language_of(person)
            ctx.notify(
                person.id,
                Reply(
                    text=say(lang, "routing.assigned_to_you", ref=ticket.ref, title=ticket.title),
                    card=card(ticket, lang=lang),
                    buttons=agent_buttons(ticket, lang),
                    ticket_ref=ticket.ref,
                ),
            )
    if group is not None:
        await tell_group(ctx, ticket, group)
    return placement


async def tell_group(ctx: HandlerContext, ticket: Ticket, group: Group) -> None:
    """Post a new ticket to its group's channels, with the agents' buttons.

    Without this a ticket nobody is assigned to waits until an agent happens to look.
    """
    lang = await channel_language(ctx.uow, group)
    who = say(lang, "routing.with", name=ticket.assignee.name) if ticket.assignee else ""
    prio = f" ({ticket.priority.value})" if ticket.priority else ""
    reply = Reply(
        text=say(
            lang,
            "routing.new",
            kind=say(lang, f"kind.{ticket.kind.value}"),
            ref=ticket.ref,
            prio=prio,
            who=who,
            title=ticket.title,
        ),
        card=card(ticket, lang=lang),
        buttons=agent_buttons(ticket, lang),
        ticket_ref=ticket.ref,
    )
    for platform, chat in (("slack", group.slack_channel), ("telegram", group.telegram_chat)):
        if chat:
            ctx.outgoing.append(
                Outgoing(reply=reply, address=Address(channel=platform, conversation=chat, user=""))
            )
