"""The person's overview: their open tickets, an agent's queue, an approver's pending changes.

Shown where a channel has a personal dashboard (the Slack App Home); elsewhere it reads as
a list. The buttons are the same actions as on ticket cards, so a click is decided by the
same handlers at click time.
"""

from __future__ import annotations

from channels.conversation import Reply, Section
from handlers.changes import decision_buttons
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.tickets import agent_buttons, card
from nlu.types import Understanding
from store.enums import PersonKind, Role, Status
from store.repositories import OPEN_STATUSES

LIMIT = 10


@registry.action("home")
async def home(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Your overview: open tickets, your queue and changes waiting for your decision."""
    person = ctx.person
    mine = await ctx.uow.tickets.for_requester(person.id, open_only=True, limit=LIMIT)
    sections = [
        Section(
            title="Your open tickets",
            cards=tuple(card(t) for t in mine),
            empty="Nothing open. Message me when something breaks or you need something.",
        )
    ]
    if person.has_role(Role.AGENT):
        queue, total = await ctx.uow.tickets.search(
            assignee_id=person.id, status=OPEN_STATUSES, limit=LIMIT
        )
        waiting, _ = await ctx.uow.tickets.search(status=(Status.NEW,), limit=50)
        unassigned = [t for t in waiting if t.assignee_id is None][:LIMIT]
        more = f" ({total})" if total > len(queue) else ""
        sections.append(
            Section(
                title=f"Assigned to you{more}",
                cards=tuple(card(t) for t in queue),
                buttons=tuple(b for t in queue for b in agent_buttons(t)),
                empty="Your queue is empty.",
            )
        )
        sections.append(
            Section(
                title="Waiting for an agent",
                cards=tuple(card(t) for t in unassigned),
                buttons=tuple(b for t in unassigned for b in agent_buttons(t)),
                empty="Every new ticket has someone on it.",
            )
        )
    if person.has_role(Role.APPROVER):
        pending = []
        for t in await ctx.uow.tickets.awaiting_approval(limit=50):
            ballots = await ctx.uow.tickets.approvals(t.id)
            if t.requester_id != person.id and all(a.approver_id != person.id for a in ballots):
                pending.append(t)
        pending = pending[:LIMIT]
        sections.append(
            Section(
                title="Waiting for your approval",
                cards=tuple(card(t) for t in pending),
                buttons=tuple(b for t in pending for b in decision_buttons(t)),
                empty="No changes are waiting for you.",
            )
        )
    count = len(mine)
    # Contacts are named after their platform id ("Slack user …42"): no greeting by name.
    known = person.kind is PersonKind.EMPLOYEE and person.name.strip()
    head = f"Hi {person.name.split()[0]}. " if known else ""
    summary = f"You have {count} open ticket{'s' if count != 1 else ''}." if count else ""
    return [
        Reply(
            text=(head + summary).strip() or "Your overview",
            overview=True,
            sections=tuple(sections),
        )
    ]
