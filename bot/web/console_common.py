"""What every `/console` page shares: who may see it, how it is drawn, a ticket as a row.

Pages need a signed-in agent or approver (`bot.web.auth`); every form posts with the
session's form token. The agents and services the filters and forms offer are read from the
directory at most every few seconds per process.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from bot.api_access import caller_context
from bot.container import Container
from bot.web.auth import require_role
from bot.web.console_text import console_translator
from bot.web.render import language, page
from handlers import sla_state
from handlers.context import HandlerContext
from store.models import Person, Ticket
from store.types import utcnow
from store.uow import UnitOfWork

Staff = Annotated[Person, Depends(require_role("agent", "approver"))]
Approver = Annotated[Person, Depends(require_role("approver"))]
CHOICES_TTL_SECONDS = 30.0


def container_of(request: Request) -> Container:
    """The application's container, which the lifespan put on the app's state."""
    found: Container = request.app.state.container
    return found


def sla_class(ticket: Ticket, now: datetime) -> tuple[str, str | None]:
    """(`ok` | `warning` | `breached` | `paused` | `met` | `none`, the words) for a ticket."""
    words = sla_state.describe(ticket, now)
    if words is None or ticket.sla_name is None:
        return "none", words
    if "breached" in words:
        return "breached", words
    if words.startswith("paused"):
        return "paused", words
    if words == "met":
        return "met", words
    warned = [
        w
        for w, met in (
            (ticket.response_warn_at, ticket.responded_at),
            (ticket.resolve_warn_at, ticket.resolved_at),
        )
        if w is not None and met is None and now >= w
    ]
    return ("warning" if warned else "ok"), words


@dataclass(frozen=True, slots=True)
class Row:
    """A ticket as one line of a queue."""

    ticket: Ticket
    sla: str
    sla_words: str | None
    channel: str


def row_of(ticket: Ticket, now: datetime) -> Row:
    """The ticket as a queue line: its service-level standing and the channel it came in on."""
    sla, words = sla_class(ticket, now)
    return Row(ticket, sla, words, str((ticket.origin or {}).get("channel") or ""))


def render(request: Request, person: Person, template: str, **context: Any) -> HTMLResponse:
    """Draw a console template in the person's language, with the console's words and now."""
    lang = language(request, person)
    return page(
        request,
        f"console/{template}",
        person=person,
        ct=console_translator(lang),
        now=utcnow(),
        **context,
    )


@dataclass(frozen=True, slots=True)
class Choices:
    """What the filters and the assign form offer: agents and services, as (id, name)."""

    agents: list[tuple[int, str]]
    services: list[tuple[int, str]]
    read_at: float


async def choices(request: Request, uow: UnitOfWork) -> Choices:
    """The agents and services to offer, read again when the process's copy is stale."""
    # The directory changes seldom; reading it once per process every few seconds keeps
    # two queries off every page.
    held: Choices | None = getattr(request.app.state, "console_choices", None)
    if held is not None and time.monotonic() - held.read_at < CHOICES_TTL_SECONDS:
        return held
    fresh = Choices(
        agents=await uow.console.agents(),
        services=await uow.console.services(),
        read_at=time.monotonic(),
    )
    request.app.state.console_choices = fresh
    return fresh


class BadInput(Exception):
    """A form field that cannot be used: answered with 400 and the reason."""


async def find_ticket(uow: UnitOfWork, ref: str) -> Ticket | None:
    """The ticket a reference names, or None when it names none (or is no reference)."""
    if not re.fullmatch(r"(?i)(INC|REQ|PRB|CHG)-\d{1,9}", ref):
        return None
    return await uow.tickets.by_ref(ref)


def context_for(uow: UnitOfWork, me: Person) -> HandlerContext:
    """A handler context for a step taken in the console by this person."""
    return caller_context(uow, me, channel="console")
