"""Agents' ticket updates, through the REST API and the chat command.

The REST API changes status, priority, assignee and notes; the chat command overrides a
priority with a reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.errors import HandlerError, LifecycleError
from handlers.registry import registry
from handlers.replies import language, language_of, say
from handlers.rules import lifecycle
from handlers.service_levels import restart_clock
from handlers.tickets import card, find_ticket
from nlu.types import Understanding
from store.enums import Priority, Role, Status
from store.models import Person, Ticket


class NotAllowedError(HandlerError):
    """The person may not make this change."""


@dataclass(frozen=True, slots=True)
class Update:
    """The fields an agent changes on a ticket; None leaves a field as it is."""

    status: Status | None = None
    priority: Priority | None = None
    assignee: Person | None = None
    note: str | None = None
    reason: str | None = None


def update_ticket(ticket: Ticket, change: Update, ctx: HandlerContext) -> list[str]:
    """Apply an update as `ctx.person`, log it, and notify the requester; the fields changed.

    Agents may change anything; a requester may only add notes to, resolve or cancel their
    own ticket.
    """
    agent = ctx.person.has_role(Role.AGENT)
    own = ticket.requester_id == ctx.person.id
    if not agent:
        if not own:
            raise NotAllowedError("only agents can update other people's tickets")
        if change.priority or change.assignee:
            raise NotAllowedError("only agents can change priority or assignee")
        if change.status and change.status not in (Status.RESOLVED, Status.CANCELLED):
            raise NotAllowedError("requesters can only resolve or cancel their tickets")
    changed: list[str] = []
    if change.status is not None and change.status is not ticket.status:
        if not lifecycle.can_move(ticket.kind, ticket.status, change.status):
            raise LifecycleError(
                f"{ticket.ref} cannot go from {ticket.status.label} to {change.status.label}"
            )
        before = ticket.status
        ticket.status = change.status
        if change.status is Status.RESOLVED:
            ticket.resolved_at = ctx.now
        if change.status is Status.CLOSED:
            ticket.closed_at = ctx.now
        ctx.log(ticket, "status", **{"from": before.value, "to": change.status.value})
        changed.append("status")
    if change.priority is not None and change.priority is not ticket.priority:
        before_p = ticket.priority
        ticket.priority = change.priority
        ctx.log(
            ticket,
            "priority",
            reason=change.reason,
            **{"from": before_p.value if before_p else None, "to": change.priority.value},
        )
        changed.append("priority")
    if change.assignee is not None and change.assignee.id != ticket.assignee_id:
        if not change.assignee.has_role(Role.AGENT):
            raise NotAllowedError(f"{change.assignee.name} is not an agent")
        ticket.assignee_id = change.assignee.id
        ticket.assignee = change.assignee
        if ticket.status is Status.NEW:
            ticket.status = Status.IN_PROGRESS
        ctx.log(ticket, "assigned", to=change.assignee.name)
        ctx.notify(
            change.assignee.id,
            Reply(
                text=say(language_of(change.assignee), "agent.assigned_to_you", ref=ticket.ref),
                card=card(ticket, lang=language_of(change.assignee)),
                ticket_ref=ticket.ref,
            ),
        )
        changed.append("assignee")
    if change.note:
        ctx.log(ticket, "note", text=change.note[:4000])
        changed.append("note")
    if changed:
        ticket.updated_at = ctx.now
        if not own:
            lang = language_of(ticket.requester, ticket)
            sep = "、" if lang == "zh" else ", "
            what = sep.join(say(lang, f"agent.changed.{c}") for c in changed)
            ctx.notify_requester(
                ticket,
                Reply(
                    text=say(
                        lang, "agent.updated_by", ref=ticket.ref, name=ctx.person.name, what=what
                    ),
                    card=card(ticket, lang=lang),
                    ticket_ref=ticket.ref,
                ),
            )
    return changed


_PRIORITY = re.compile(r"\b(P[1-5])\b", re.IGNORECASE)
_NOT_REASON = re.compile(
    r"^\W*priority\b|\b(?:INC|REQ|PRB|CHG)-\d+\b|\b(?:to\s+)?P[1-5]\b|^\W*(?:because|as|since)\b",
    re.IGNORECASE,
)


@registry.command("priority", listed=False)
async def override_priority(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Set a ticket's priority, with a reason: "priority INC-42 P1 payroll runs today" (agents)."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "agent.priority_agents_only"))]
    wanted = _PRIORITY.search(ctx.text)
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None or wanted is None:
        usage = say(lang, "agent.priority_usage")
        return [problem] if problem and wanted else [Reply(text=usage)]
    reason = " ".join(_NOT_REASON.sub(" ", ctx.text).split())
    reason = re.sub(r"^\W*(?:because|as|since)\b\W*", "", reason, flags=re.IGNORECASE).strip()
    if not reason:
        return [
            Reply(
                text=say(
                    lang, "agent.priority_why", ref=ticket.ref, priority=wanted.group(1).upper()
                )
            )
        ]
    target = Priority(wanted.group(1).upper())
    before = ticket.priority
    if not update_ticket(ticket, Update(priority=target, reason=reason[:1000]), ctx):
        return [
            Reply(
                text=say(lang, "agent.priority_already", ref=ticket.ref, priority=target.value),
                ticket_ref=ticket.ref,
            )
        ]
    await restart_clock(ctx, ticket)
    was = say(lang, "agent.priority_was", priority=before.value) if before else ""
    return [
        Reply(
            text=say(
                lang,
                "agent.priority_set",
                ref=ticket.ref,
                priority=target.value,
                was=was,
                reason=reason,
            ),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]
