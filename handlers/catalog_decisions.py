"""Deciding a catalog request: Approve / Reject buttons, or "approve REQ-4" typed.

Only the current step's approvers decide; the requester never decides their own, and someone
outside the chain who is not staff gets the answer a missing request gets. A step needs its
quorum of approvals before the next step is asked; the last approval starts fulfilment, a
rejection ends the request. The requester is told either way.
"""

from __future__ import annotations

import re
from dataclasses import replace

from channels.conversation import Reply
from handlers.catalog_chain import APPROVE, REJECT, approvers, ask_step
from handlers.catalog_placing import fulfil
from handlers.context import HandlerContext
from handlers.registry import Declined, registry
from handlers.replies import date_text, language, language_of, say, status_label
from handlers.tickets import can_see, card, not_found
from nlu.types import Understanding
from store.enums import Decision, Status, TicketKind

_TYPED_DECISION = re.compile(
    r"^\W*/?(?P<verb>approve|reject)\s+(?P<ref>REQ-\d{1,9})\b[\s,.:;!-]*"
    r"(?:(?:because|as|since|reason:?)\s+)?(?P<note>.*)$",
    re.IGNORECASE | re.DOTALL,
)


@registry.command("approve", "reject", listed=False)
async def typed_decision(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Decide a request sent to you: "approve REQ-4" or "reject REQ-4 not in this budget"."""
    said = _TYPED_DECISION.match(ctx.text or nlu.text)
    if said is None:
        # "approve CHG-12", or "reject" that names no request: the change approvals (and
        # the NLU) read it as they would without this command.
        raise Declined
    ctx.params = {"ref": said.group("ref").upper(), "note": said.group("note").strip()}
    verdict = Decision.APPROVED if said.group("verb").lower() == "approve" else Decision.REJECTED
    # A typed message has no card of its own to edit: the answer is a new message.
    return [replace(r, replaces=False) for r in await _decide(ctx, verdict)]


@registry.action(APPROVE)
async def approve_request(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Approve a catalog request sent to you."""
    return await _decide(ctx, Decision.APPROVED)


@registry.action(REJECT)
async def reject_request(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Reject a catalog request sent to you."""
    return await _decide(ctx, Decision.REJECTED)


async def _decide(ctx: HandlerContext, decision: Decision) -> list[Reply]:
    ref = ctx.params.get("ref", "").upper()
    ticket = await ctx.uow.tickets.by_ref(ref) if ref else None
    request = await ctx.uow.catalog.lock_request(ticket.id) if ticket else None
    if ticket is None or request is None or ticket.kind is not TicketKind.REQUEST:
        return [not_found(ref or "that request")]
    lang = language(ctx)
    if ticket.requester_id == ctx.person.id:
        return [
            Reply(
                text=say(lang, "catalog.own_request", ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    deciders = await approvers(ctx, request)
    if ctx.person.id not in {p.id for p in deciders}:
        in_chain = any(ctx.person.id in (s.get("approvers") or ()) for s in request.chain or ())
        if not can_see(ctx.person, ticket) and not in_chain:
            # Outside the chain and not staff: the same answer as for a request that
            # does not exist, so references cannot be probed for who approves what.
            return [not_found(ticket.ref)]
        who = ", ".join(p.name for p in deciders) or say(lang, "catalog.an_approver")
        return [
            Reply(
                text=say(lang, "catalog.only_who", who=who, ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    if ticket.status is not Status.AWAITING_APPROVAL:
        return [
            Reply(
                text=say(
                    lang,
                    "catalog.not_waiting",
                    ref=ticket.ref,
                    status=status_label(ticket.status, lang),
                ),
                card=card(ticket, lang=lang),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    comment = ctx.params.get("note", "")[:1000]
    step = request.step if request.chain else 0
    if any(d.person_id == ctx.person.id for d in await ctx.uow.catalog.decisions(ticket.id, step)):
        return [
            Reply(
                text=say(lang, "catalog.decided_already", ref=ticket.ref),
                ticket_ref=ticket.ref,
                ephemeral=True,
            )
        ]
    await ctx.uow.catalog.decide(
        ticket_id=ticket.id,
        step=step,
        person_id=ctx.person.id,
        decision=decision.value,
        comment=comment,
        channel=ctx.channel,
    )
    if not await ctx.uow.catalog.has_approval(ticket.id, ctx.person.id):
        await ctx.uow.tickets.add_approval(
            ticket, ctx.person, decision, comment=comment, channel=ctx.channel
        )
    ticket.updated_at = ctx.now
    chain = request.chain or []
    if decision is Decision.APPROVED:
        approved = [
            d
            for d in await ctx.uow.catalog.decisions(ticket.id, step)
            if d.decision == Decision.APPROVED.value
        ]
        quorum = int(chain[step].get("quorum") or 1) if chain else 1
        ctx.log(
            ticket,
            "approval",
            step=step + 1,
            decision="approved",
            approvals=len(approved),
            quorum=quorum,
            comment=comment or None,
        )
        if len(approved) < quorum:
            return [
                Reply(
                    text=say(
                        lang, "catalog.more_needed", ref=ticket.ref, count=quorum - len(approved)
                    ),
                    card=card(ticket, lang=lang),
                    ticket_ref=ticket.ref,
                    replaces=True,
                )
            ]
        if step + 1 < len(chain):
            request.step = step + 1
            requester = await ctx.uow.people.get(ticket.requester_id)
            await ask_step(ctx, ticket, request, requester.name if requester else "Someone")
            label = str(chain[step + 1].get("label") or "the next approver")
            ctx.notify_requester(
                ticket,
                Reply(
                    text=say(
                        language_of(ticket.requester, ticket),
                        "catalog.approved_next_told",
                        ref=ticket.ref,
                        name=ctx.person.name,
                        label=label,
                    ),
                    ticket_ref=ticket.ref,
                ),
            )
            return [
                Reply(
                    text=say(lang, "catalog.approved_next", ref=ticket.ref, label=label),
                    card=card(ticket, lang=lang),
                    ticket_ref=ticket.ref,
                    replaces=True,
                )
            ]
    request.decided_at = ctx.now
    item = request.item
    told_lang = language_of(ticket.requester, ticket)
    if decision is Decision.APPROVED:
        ticket.status = Status.NEW
        ctx.log(ticket, Decision.APPROVED.value, comment=comment or None, outcome="approved")
        if item is not None:
            await fulfil(ctx, ticket, item)
        due = (
            say(told_lang, "catalog.due", when=date_text(ticket.resolve_due_at, told_lang))
            if ticket.resolve_due_at
            else ""
        )
        group = (
            say(told_lang, "catalog.group_takes", group=ticket.group.name) if ticket.group else ""
        )
        told = say(
            told_lang,
            "catalog.approved_told",
            ref=ticket.ref,
            name=ctx.person.name,
            group=group,
            due=due,
        )
    else:
        ticket.status = Status.REJECTED
        ctx.log(ticket, Decision.REJECTED.value, comment=comment or None, outcome="rejected")
        reason = say(told_lang, "catalog.reason", comment=comment) if comment else ""
        told = say(
            told_lang, "catalog.rejected_told", ref=ticket.ref, name=ctx.person.name, reason=reason
        )
    ctx.notify_requester(
        ticket, Reply(text=told, card=card(ticket, lang=lang), ticket_ref=ticket.ref)
    )
    done = "catalog.you_approved" if decision is Decision.APPROVED else "catalog.you_rejected"
    return [
        Reply(
            text=say(lang, done, ref=ticket.ref),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
            replaces=True,
        )
    ]
