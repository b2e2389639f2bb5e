"""What the portal's pages show of a ticket: its service-level standing and its timeline.

The timeline is what the requester may see: notes meant for the desk only are left out,
and events are named in the person's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request

from bot.web.auth import container_of
from bot.web.i18n import Translate
from handlers import sla_state
from store.enums import Status
from store.models import Person, Ticket, TicketEvent


@dataclass(frozen=True, slots=True)
class Standing:
    """A ticket's service-level standing: a badge class, its label, and the detail."""

    state: str
    label: str
    detail: str


def standing(ticket: Ticket, now: datetime, t: Translate) -> Standing:
    """The ticket's standing against its service-level targets, in the person's words."""
    described = sla_state.describe(ticket, now)
    if described is None or described.startswith("no target"):
        return Standing("none", t("sla.none"), described or "")
    if "breached" in described:
        state = "breached"
    elif described.startswith("paused"):
        state = "paused"
    elif described == "met":
        state = "met"
    else:
        warn = [
            w
            for w, met in (
                (ticket.response_warn_at, ticket.responded_at),
                (ticket.resolve_warn_at, ticket.resolved_at),
            )
            if w is not None and met is None and now >= w
        ]
        state = "warning" if warn else "ok"
    return Standing(state, t(f"sla.{state}"), described)


def status_label(status: Status, t: Translate) -> str:
    """A status as the requester reads it."""
    return t(f"status.{status.value}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a ticket's timeline as the requester sees it."""

    at: datetime
    who: str
    channel: str
    what: str
    text: str


def timeline(ticket: Ticket, events: list[TicketEvent], t: Translate) -> list[Entry]:
    """The ticket's events as the requester sees them, leaving out the desk's own notes."""
    entries = []
    for ev in events:
        detail = ev.detail or {}
        if detail.get("internal"):
            continue  # a note for the desk only
        text = str(detail.get("text") or "")
        if ev.action == "created":
            text = ticket.description
        elif ev.action == "status" and detail.get("to"):
            text = status_label(Status(str(detail["to"])), t) if _is_status(detail["to"]) else ""
        entries.append(
            Entry(
                at=ev.at,
                who=ev.actor.name if ev.actor else t("event.system"),
                channel=ev.channel,
                what=t(f"event.{ev.action}") if f"event.{ev.action}" in _KNOWN else ev.action,
                text=text,
            )
        )
    return entries


_KNOWN = frozenset(
    f"event.{a}"
    for a in (
        "created",
        "note",
        "status",
        "assigned",
        "escalated",
        "resolved",
        "reopened",
        "approved",
        "rejected",
        "reply",
        "routed",
        "sla",
        "linked",
    )
)


def _is_status(value: Any) -> bool:
    return str(value) in {s.value for s in Status}


async def own_ticket(request: Request, person: Person, ref: str) -> Ticket | None:
    """The person's own ticket by reference; None when it is not theirs or does not exist."""
    async with container_of(request).uow() as uow:
        ticket = await uow.tickets.by_ref(ref.strip().upper())
    if ticket is None or ticket.requester_id != person.id:
        return None
    return ticket
