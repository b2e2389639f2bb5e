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
from handlers.replies import language, say
from handlers.tickets import agent_buttons, card
from nlu.types import Understanding
from store.enums import PersonKind, Role, Status
from store.repositories import OPEN_STATUSES

LIMIT = 10


@registry.action("home")
async def home(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Your overview: open tickets, your queue and changes waiting for your decision."""
    person = ctx.person
    lang = language(ctx, nlu)
    mine = await ctx.uow.tickets.for_requester(person.id, open_only=True, limit=LIMIT)
    sections = [
        Section(
            title=say(lang, "home.mine"),
            cards=tuple(card(t, lang=lang) for t in mine),
            empty=say(lang, "home.mine_empty"),
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
                title=say(lang, "home.assigned", more=more),
                cards=tuple(card(t, lang=lang) for t in queue),
                buttons=tuple(b for t in queue for b in agent_buttons(t, lang)),
                empty=say(lang, "home.assigned_empty"),
            )
        )
        sections.append(
            Section(
                title=say(lang, "home.waiting"),
                cards=tuple(card(t, lang=lang) for t in unassigned),
                buttons=tuple(b for t in unassigned for b in agent_buttons(t, lang)),
                empty=say(lang, "home.waiting_empty"),
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
                title=say(lang, "home.approvals"),
                cards=tuple(card(t, lang=lang) for t in pending),
                buttons=tuple(b for t in pending for b in decision_buttons(t, lang)),
                empty=say(lang, "home.approvals_empty"),
            )
        )
    count = len(mine)
    # Contacts are named after their platform id ("Slack user …42"): no greeting by name.
    known = person.kind is PersonKind.EMPLOYEE and person.name.strip()
    head = say(lang, "home.hi", name=person.name.split()[0]) if known else ""
    summary = say(lang, "home.count_one" if count == 1 else "home.count_many", n=count)
    summary = summary if count else ""
    return [
        Reply(
            text=(head + summary).strip() or say(lang, "home.title"),
            overview=True,
            sections=tuple(sections),
        )
    ]
