"""`/console/tickets/{ref}/live`: a ticket page's stream of server-sent events.

Changes arrive as news from the process that committed them (`bot.web.live`: in-process when
embedded, Redis pub/sub when scaled), so nothing polls the database.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from bot.web.console_common import Staff, container_of, find_ticket
from bot.web.console_text import console_translator
from bot.web.live import NEWS
from bot.web.render import error_page, language
from store.enums import Status

router = APIRouter(prefix="/console", include_in_schema=False)
LIVE_LIFETIME_SECONDS = 300.0
HEARTBEAT_SECONDS = 15.0


@router.get("/tickets/{ref}/live")
async def live(
    request: Request,
    ref: str,
    person: Staff,
    version: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """Server-sent events: `changed` when the ticket moves past `version`.

    The version is read once on connecting, for a change made between the page and its
    stream. Each stream ends after a few minutes and the browser reconnects on its own.
    """
    c = container_of(request)
    async with c.uow() as uow:
        ticket = await find_ticket(uow, ref)
        if ticket is None:
            return error_page(request, 404, "no such ticket")
        ticket_id = ticket.id
    lang = language(request, person)
    t = console_translator(lang)

    def changed(seen: int, status: Status | str | None) -> str:
        words = t(f"status.{Status(status).value}") if status else ""
        data = {"ref": ref.upper(), "version": seen, "status": words}
        return f"event: changed\ndata: {json.dumps(data)}\n\n"

    async def current() -> tuple[int, Status] | None:
        async with c.uow() as uow:
            found = await uow.tickets.get(ticket_id)
            return (found.version, found.status) if found else None

    async def events() -> AsyncIterator[str]:
        with NEWS.subscribe(ticket_id) as news:
            yield "retry: 5000\n\n"
            seen = version
            now = await current()
            if now is not None and now[0] != seen:
                seen = now[0]
                yield changed(seen, now[1])
            ends = time.monotonic() + LIVE_LIFETIME_SECONDS
            while (left := ends - time.monotonic()) > 0:
                if await request.is_disconnected():
                    return
                try:
                    change = await asyncio.wait_for(news.get(), min(left, HEARTBEAT_SECONDS))
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if change.version is None:
                    # An event that did not move the ticket (a note, a reply): still news.
                    now = await current()
                    if now is not None:
                        seen = now[0]
                        yield changed(seen, now[1])
                elif change.version != seen:
                    seen = change.version
                    yield changed(seen, change.status)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
