"""What follows a ticket's end, whichever door ended it (chat, console, REST, an alert).

A major incident's record closes and its review opens (`handlers.incident_review`); a catalog
request's tasks still to do are dropped (`handlers.fulfilment`). Each door calls `ended` after
its status change, so none of them can forget one of these.
"""

from __future__ import annotations

from handlers import fulfilment
from handlers.context import HandlerContext
from handlers.incident_review import major_resolved
from store.models import Ticket


async def ended(ctx: HandlerContext, ticket: Ticket, *, tell_reports: bool = True) -> None:
    """Settle what hangs on `ticket` if it has ended; nothing when it is still open."""
    await major_resolved(ctx, ticket, tell_reports=tell_reports)
    await fulfilment.settle(ctx, ticket)
