"""The end of a major incident: everyone hears it is over, and a post-incident review opens.

Whichever door resolves the incident (chat, ✅ on its thread, the console, `PATCH
/api/tickets/{ref}`, a monitoring alert clearing) or cancels it (chat) calls
`major_resolved` in the same unit of work, so the record closes once, every linked reporter
is told on their own channel, the swarm and the desk's major-incident topic hear it, and a
problem ticket for the review is opened, linked to the incident, for its lead.
"""

from __future__ import annotations

from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.replies import channel_language, language_of, say
from handlers.rules import lifecycle
from store.enums import Status, TicketKind
from store.models import Ticket

REVIEW_PREFIX = "Post-incident review of"
_ENDED = (Status.RESOLVED, Status.CLOSED, Status.CANCELLED)


async def major_resolved(
    ctx: HandlerContext, ticket: Ticket, *, tell_reports: bool = True
) -> Ticket | None:
    """Close `ticket`'s open major incident record if it has one; the review ticket opened.

    Every door that ends a ticket calls this after the change. A cancelled major incident
    closes its record and stands the swarm down without a review.

    `tell_reports` False: the caller has told the linked reporters already.
    """
    if ticket.status not in _ENDED:
        return None
    major = await ctx.uow.major_incidents.for_ticket(ticket.id)
    if major is None or not major.open:
        return None
    major.open = False
    major.updated_at = ctx.now
    if ticket.status is Status.CANCELLED:
        # Declared by mistake: the swarm stands down, and there is nothing to review.
        await _post(ctx, ticket, major.swarm_channel, "major.cancelled")
        ctx.log(ticket, "major_stood_down")
        return None
    reports = [
        t
        for t in await ctx.uow.major_incidents.linked_reports(ticket.id)
        if lifecycle.is_open(t.status)
    ]
    for report in reports if tell_reports else ():
        ctx.notify_requester(
            report,
            Reply(
                text=say(
                    language_of(report.requester, report),
                    "major.outage_over",
                    report=report.ref,
                    ref=ticket.ref,
                ),
                ticket_ref=report.ref,
            ),
        )
    await _post(ctx, ticket, major.swarm_channel, "major.over")
    review = await ctx.uow.tickets.create(
        kind=TicketKind.PROBLEM,
        title=f"{REVIEW_PREFIX} {ticket.ref}: {ticket.title}",
        requester=ctx.person,
        description=(
            f"Review of major incident {ticket.ref}, declared {major.declared_at:%Y-%m-%d %H:%M}"
            f" UTC and resolved {ctx.now:%Y-%m-%d %H:%M} UTC, with {len(reports)} linked "
            f"report(s) still open. Last update: {major.last_update or 'none'}. "
            "What happened, why, what worked, and what to change."
        ),
        service_id=ticket.service_id,
        group_id=ticket.group_id,
        assignee_id=major.lead_id,
        origin={"channel": "console", "conversation": "review", "user": ""},
    )
    await ctx.uow.problems.link(review, ticket, how="review")
    ctx.log(ticket, "review_opened", review=review.ref)
    ctx.log(review, "created", reason="post-incident review", incident=ticket.ref)
    ctx.notify(
        major.lead_id,
        Reply(
            text=f"{ticket.ref} is resolved. You lead its post-incident review: {review.ref}.",
            ticket_ref=review.ref,
        ),
    )
    return review


async def _post(ctx: HandlerContext, ticket: Ticket, swarm_channel: str | None, key: str) -> None:
    """News for the swarm channel and the major-incident channel, each in its own language.

    The swarm channel reads the owner group's language, the major-incident channel the desk's.
    """
    if swarm_channel:
        lang = await channel_language(ctx.uow, ticket.group)
        swarm = Address(channel="slack", conversation=swarm_channel, user="")
        reply = Reply(
            text=say(lang, key, ref=ticket.ref, title=ticket.title), ticket_ref=ticket.ref
        )
        ctx.outgoing.append(Outgoing(reply=reply, address=swarm))
    lang = await channel_language(ctx.uow)
    reply = Reply(text=say(lang, key, ref=ticket.ref, title=ticket.title), ticket_ref=ticket.ref)
    ctx.announce("major_incident", reply)
