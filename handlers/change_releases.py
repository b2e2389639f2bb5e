"""A release following its changes: what their stages make of it, and telling its creator.

Every step of a change that belongs to a release (a decision, implementing, completing,
closing) lets the release follow it.
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.replies import language_of, say, status_label
from handlers.rules import releases as release_rules
from store.changes import ChangeStage
from store.models import Ticket
from store.releases import Release, ReleaseStatus


async def release_status(ctx: HandlerContext, release: Release) -> ReleaseStatus:
    """What the release's changes make of it now."""
    tickets = await ctx.uow.releases.changes(release)
    plans = await ctx.uow.changes.plans([t.id for t in tickets])
    members = []
    for t in tickets:
        plan = plans.get(t.id)
        stage = plan.stage if plan else ChangeStage.PLANNED
        members.append(release_rules.Member(t.status, stage, plan.outcome if plan else None))
    return release_rules.status_of(members)


async def follow_release(ctx: HandlerContext, ticket: Ticket) -> Release | None:
    """Let the release of a change that moved follow it; the release, when its status changed.

    The release's creator hears when its status changes.
    """
    release = await ctx.uow.releases.of_change(ticket.id)
    if release is None:
        return None
    # No flush: the changes' new states are read from the session's own objects, so a
    # decision through the API still bumps the ticket's version once.
    now = await release_status(ctx, release)
    if now is release.status:
        return None
    before, release.status, release.updated_at = release.status, now, ctx.now
    ctx.log(ticket, "release_followed", release=release.name, release_status=now.value)
    lang = language_of(release.requester)
    ctx.notify(
        release.requester_id,
        Reply(
            text=say(
                lang,
                "lifecycle.release_now",
                name=release.name,
                now=say(lang, f"release.status.{now.value}"),
                before=say(lang, f"release.status.{before.value}"),
                ref=ticket.ref,
                status=status_label(ticket.status, lang),
            ),
            ticket_ref=ticket.ref,
        ),
    )
    return release
