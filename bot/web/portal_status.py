"""`/portal/status`: the major incidents as everyone may read them.

A status page is read by anyone signed in, so it says only what a person affected may know:
which service, since when, whether it is over, and the lead's last public update (the words
already broadcast to every reporter). No names, no internal notes, no event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.web.auth import SignedIn, container_of
from bot.web.render import page
from store.types import utcnow

router = APIRouter(prefix="/portal", include_in_schema=False)
RESOLVED_SHOWN_DAYS = 3


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the status page."""

    ref: str
    service: str | None
    ongoing: bool
    since: datetime
    updated: datetime
    update: str


@router.get("/status")
async def status_page(request: Request, person: SignedIn) -> Response:
    """Major incidents now, and those over in the last few days."""
    since = utcnow() - timedelta(days=RESOLVED_SHOWN_DAYS)
    async with container_of(request).uow() as uow:
        majors = await uow.console.majors(closed_since=since)
    entries = [
        Entry(
            ref=m.ticket.ref,
            service=m.ticket.service.name if m.ticket.service else None,
            ongoing=m.record.open,
            since=m.record.declared_at,
            updated=m.record.updated_at,
            update=m.record.last_update,
        )
        for m in majors
    ]
    return page(
        request,
        "portal/status.html",
        person=person,
        section="status",
        entries=entries,
        days=RESOLVED_SHOWN_DAYS,
    )
