"""What every process shares about tickets: finding one a person may see, cards, titles."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply, TicketCard
from handlers import sla_state
from handlers.context import HandlerContext
from handlers.replies import channel_language, date_text, language, say, status_label
from handlers.rules import priority as prio
from handlers.service_levels import opening_clock
from nlu.types import EntityName, Understanding
from store.enums import Level, Role, Status, TicketKind
from store.models import Person, Service, Ticket
from store.types import utcnow

MISS_LIMIT = 10
MISS_WINDOW = 600
_REF = re.compile(r"^(INC|REQ|PRB|CHG)-(\d{1,9})$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_MENTION = re.compile(r"<[@#!][^>]*>")


def can_see(person: Person, ticket: Ticket) -> bool:
    """Requesters see their own tickets; agents, approvers and admins see all."""
    if ticket.requester_id == person.id:
        return True
    return person.has_role(Role.AGENT, Role.APPROVER)


def can_work(person: Person, ticket: Ticket) -> bool:
    """Requesters act on their own tickets; agents on any."""
    return ticket.requester_id == person.id or person.has_role(Role.AGENT)


def not_found(ref: str, ctx: HandlerContext | None = None) -> Reply:
    """The same answer for a ticket that does not exist and one the person may not see.

    With `ctx`, in the person's language; without, in English.
    """
    return Reply(text=say(language(ctx) if ctx else "en", "ticket.not_found", ref=ref))


async def find_ticket(
    nlu: Understanding,
    ctx: HandlerContext,
    *,
    kinds: Sequence[TicketKind] = (),
    fallback: str | None = "open",
) -> tuple[Ticket | None, Reply | None]:
    """The ticket a message is about: named by reference, else the person's latest.

    `fallback` is "open" for the latest open ticket, "resolved" for the latest resolved one,
    or None to insist on a reference. Returns the ticket, or the reply to give instead.
    """
    ref = nlu.first(EntityName.TICKET_REF)
    if ref is None and ctx.params.get("ref"):
        ref_value: str | None = ctx.params["ref"]
    else:
        ref_value = ref.value if ref else None
    if ref_value:
        staff = ctx.person.has_role(Role.AGENT, Role.APPROVER)
        misses = f"ticket-misses:{ctx.person.id}"
        if not staff and await ctx.tally(misses, MISS_WINDOW, 0) >= MISS_LIMIT:
            # Guessing references is slowed down for everyone who is not staff.
            return None, Reply(text=say(language(ctx, nlu), "ticket.slow_down"))
        ticket = await _by_reference(ref_value, ctx)
        if ticket is None or not can_see(ctx.person, ticket):
            if not staff:
                await ctx.tally(misses, MISS_WINDOW, 1)
            return None, not_found(ref_value.upper(), ctx)
        return ticket, None
    if fallback == "open":
        ticket = await ctx.uow.tickets.latest_open(ctx.person.id, kinds)
    elif fallback == "resolved":
        ticket = await ctx.uow.tickets.latest_resolved(ctx.person.id)
    else:
        ticket = None
    if ticket is None:
        which = "ticket.which_resolved" if fallback == "resolved" else "ticket.which_open"
        return None, Reply(text=say(language(ctx, nlu), which))
    return ticket, None


async def _by_reference(value: str, ctx: HandlerContext) -> Ticket | None:
    if _REF.match(value):
        return await ctx.uow.tickets.by_ref(value.upper())
    digits = value.lstrip("#")
    if not digits.isdigit():
        return None
    visible = [t for t in await ctx.uow.tickets.by_number(int(digits)) if can_see(ctx.person, t)]
    mine = [t for t in visible if t.requester_id == ctx.person.id]
    pick = mine or visible
    return pick[0] if len(pick) == 1 else None


_CARD_LABELS = ("Status", "Priority", "Service", "Assignee", "Requester")


def card(ticket: Ticket, now: datetime | None = None, *, lang: str = "en") -> TicketCard:
    """The ticket as a card (the version lets a stale button click be recognised).

    `now` is when its service-level standing is judged (default: the present); `lang` is the
    reader's language, for the names of its facts and its state.
    """
    fields: list[tuple[str, str]] = []
    if ticket.kind is TicketKind.CHANGE and ticket.change_type:
        fields.append((say(lang, "card.type"), ticket.change_type.value))
    if ticket.planned_start:
        when = date_text(ticket.planned_start, lang, "%a %d %b %Y %H:%M UTC")
        fields.append((say(lang, "card.window"), when))
    if ticket.catalog_item:
        fields.append((say(lang, "card.item"), ticket.catalog_item))
    if (standing := sla_state.describe(ticket, now or utcnow(), lang)) is not None:
        fields.append((say(lang, "card.sla"), standing))
    labels = (
        tuple((name, say(lang, f"card.{name.lower()}")) for name in _CARD_LABELS)
        if lang != "en"
        else ()
    )
    return TicketCard(
        ref=ticket.ref,
        title=ticket.title,
        kind=ticket.kind.value,
        status=status_label(ticket.status, lang),
        priority=ticket.priority.value if ticket.priority else None,
        service=ticket.service.name if ticket.service else None,
        requester=ticket.requester.name if ticket.requester else None,
        assignee=ticket.assignee.name if ticket.assignee else None,
        version=ticket.version,
        fields=tuple(fields),
        labels=labels,
    )


def agent_buttons(ticket: Ticket, lang: str = "en") -> tuple[Button, ...]:
    """What an agent can do from the card."""
    if ticket.status in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED, Status.REJECTED):
        return ()
    buttons = [Button(label=say(lang, "button.assign_me"), action="assign_me", value=ticket.ref)]
    if ticket.kind is not TicketKind.CHANGE:
        buttons.append(
            Button(
                label=say(lang, "button.resolve"),
                action="resolve",
                value=ticket.ref,
                style=ButtonStyle.PRIMARY,
            )
        )
    buttons.append(Button(label=say(lang, "button.add_note"), action="add_note", value=ticket.ref))
    return tuple(buttons)


def title_from(text: str, limit: int = 80) -> str:
    """A one-line title from what the person wrote."""
    clean = _SPACE.sub(" ", _MENTION.sub("", text)).strip(" -:,.!?")
    if not clean:
        return "Reported in chat"
    first = re.split(r"(?<=[.!?。！？])\s*", clean, maxsplit=1)[0] or clean
    if len(first) > limit:
        cut = first[: limit - 1].rsplit(" ", 1)[0]
        first = (cut or first[: limit - 1]) + "…"
    return first[0].upper() + first[1:]


def summary(ticket: Ticket) -> str:
    """One line: reference, title, status, priority."""
    prio = f", {ticket.priority.value}" if ticket.priority else ""
    who = f", with {ticket.assignee.name}" if ticket.assignee else ""
    return f"{ticket.ref} · {ticket.title} ({ticket.status.label}{prio}{who})"


async def open_ticket(
    ctx: HandlerContext,
    *,
    kind: TicketKind,
    title: str,
    description: str,
    service: Service | None,
    impact: Level | None = None,
    urgency: Level | None = None,
    status: Status = Status.NEW,
    clock: bool = False,
    **fields: Any,
) -> Ticket:
    """Open a ticket for the person asking, where they asked, and log who opened it.

    Priority comes from the matrix when impact and urgency are known; extra keyword
    arguments are further ticket columns, except `log` (details for the event log only).
    With `clock`, the row goes in with its service-level clock (`opening_clock`; log it
    with `note_clock`). A new major incident is announced.
    """
    detail = fields.pop("log", {})
    priority = prio.priority(impact, urgency) if impact and urgency else None
    if clock:
        at = utcnow()
        fields.update(created_at=at, updated_at=at)
        fields.update(
            await opening_clock(ctx, kind=kind, priority=priority, service=service, at=at)
        )
    ticket = await ctx.uow.tickets.create(
        kind=kind,
        title=title,
        description=description,
        requester=ctx.person,
        status=status,
        priority=priority,
        impact=impact,
        urgency=urgency,
        service_id=service.id if service else None,
        group_id=service.owner_group_id if service else None,
        origin=ctx.address.to_dict(),
        **fields,
    )
    ctx.log(
        ticket,
        "created",
        priority=priority.value if priority else None,
        impact=impact.value if impact else None,
        urgency=urgency.value if urgency else None,
        service=service.name if service else None,
        **detail,
    )
    if kind is TicketKind.INCIDENT and priority and prio.is_major(priority):
        await announce_major(ctx, ticket)
    return ticket


async def announce_major(ctx: HandlerContext, ticket: Ticket, *, note: str = "") -> None:
    """Post a P1/P2 incident to the major-incident topic, with the agents' buttons.

    `note` says how it became major: "escalated", "monitoring" or "declared".
    """
    lang = await channel_language(ctx.uow)
    where = say(lang, "major.announce_for", service=ticket.service.name) if ticket.service else ""
    ctx.announce(
        "major_incident",
        Reply(
            text=say(
                lang,
                "major.announce",
                priority=ticket.priority.value if ticket.priority else "",
                ref=ticket.ref,
                note=say(lang, f"major.note.{note}") if note else "",
                where=where,
                title=ticket.title,
            ),
            card=card(ticket, lang=lang),
            buttons=agent_buttons(ticket, lang),
            ticket_ref=ticket.ref,
        ),
    )
