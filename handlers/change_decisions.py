"""Approving and rejecting a change, in chat, by button, from the console or the REST API.

Chat, buttons, the console and the REST API all decide through `_decide`: the decision is
checked against the desk-wide policy and the change's boards (`handlers.change_boards`),
counted, and, when it settles the change, told to its requester and the approvals channel.
"""

from __future__ import annotations

from channels.conversation import Button, Reply
from handlers import confirmations
from handlers.approvers import decidable, decision_buttons
from handlers.change_boards import board_names, boards_of, decision_refusal, listing
from handlers.change_releases import follow_release
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import channel_language, language, language_of, say, status_label
from handlers.rules import approval, confirm, quorum
from handlers.rules import releases as release_rules
from handlers.tickets import card, find_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.enums import ChangeType, Decision, Role, Status, TicketKind


@registry.intent(IntentName.APPROVE, actions=("approve",))
async def approve(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Approve a change waiting for you: "approve CHG-12"."""
    return await _decide(nlu, ctx, Decision.APPROVED)


@registry.intent(IntentName.REJECT, actions=("reject",))
async def reject(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Reject a change: "reject CHG-12, not during quarter close"."""
    return await _decide(nlu, ctx, Decision.REJECTED)


async def _decide(nlu: Understanding, ctx: HandlerContext, decision: Decision) -> list[Reply]:
    lang = language(ctx, nlu)
    asked = ctx.params.get("ref", "")
    if nlu.first(EntityName.TICKET_REF) is None and not asked.upper().startswith("CHG-"):
        named = release_rules.name_in(asked) or release_rules.name_in(nlu.text)
        if named is not None:
            # Releases are built on this module's decisions, so it is imported on use.
            from handlers import releases

            return await releases.decide_in_chat(nlu, ctx, decision, named)
    ticket, problem = await find_ticket(nlu, ctx, kinds=[TicketKind.CHANGE], fallback=None)
    if ticket is None:
        if nlu.first(EntityName.TICKET_REF) is None and not ctx.params.get("ref"):
            return [await _which_change(ctx, decision, lang)]
        return [problem] if problem else []
    if ticket.kind is not TicketKind.CHANGE:
        return [Reply(text=say(lang, "change.not_a_change", ref=ticket.ref))]
    ballots = [
        approval.Ballot(a.approver_id, a.decision)
        for a in await ctx.uow.tickets.approvals(ticket.id)
    ]
    shown = ctx.params.get("version")
    boards = await boards_of(ctx.uow, ticket)
    refusal = await decision_refusal(
        ctx, ticket, int(shown) if shown and shown.isdigit() else None, boards=boards
    )
    if refusal is approval.Refusal.NOT_AWAITING and ticket.status in (
        Status.APPROVED,
        Status.REJECTED,
    ):
        decided = next((a for a in await ctx.uow.tickets.approvals(ticket.id)), None)
        by = say(lang, "change.by", name=decided.approver.name) if decided else ""
        return [
            Reply(
                text=say(
                    lang,
                    "change.already",
                    ref=ticket.ref,
                    status=status_label(ticket.status, lang),
                    by=by,
                ),
                card=card(ticket, lang=lang),
                ticket_ref=ticket.ref,
                # A losing click is the clicker's business alone, told once per card state.
                ephemeral=ctx.via_action,
            )
        ]
    if refusal is not None:
        said = say(lang, f"change.refusal.{refusal.value}", ref=ticket.ref)
        if refusal is approval.Refusal.NOT_ON_BOARD:
            said = say(
                lang, "change.not_on_board", ref=ticket.ref, boards=board_names(boards, lang)
            )
        return [
            Reply(
                text=said,
                card=card(ticket, lang=lang) if ctx.via_action else None,
                ticket_ref=ticket.ref,
                ephemeral=ctx.via_action,
            )
        ]
    if not ctx.via_action and not confirm.is_certain(nlu.intent, nlu.confidence):
        return [confirmations.ask(nlu.intent, ticket, ctx)]
    comment = "" if ctx.via_action else _comment(nlu)
    await ctx.uow.tickets.add_approval(
        ticket, ctx.person, decision, comment=comment, channel=ctx.channel
    )
    ballots.append(approval.Ballot(ctx.person.id, decision))
    change_type = ticket.change_type or ChangeType.NORMAL
    # The approvals channel is shared: it reads in the desk's language.
    shared = await channel_language(ctx.uow)
    if quorum.applies(change_type, boards):
        votes = [quorum.Vote(b.approver_id, b.decision) for b in ballots]
        result = quorum.outcome(boards, votes, ticket.requester_id)
        short = quorum.waiting_on(boards, votes, ticket.requester_id)
        tallies = [
            say(lang, "change.tally", board=t.board.name, approvals=t.approvals, needed=t.needed)
            for t in short
        ]
        needs = say(lang, "change.needs_from", tallies=listing(lang, tallies))
        shared_tallies = [
            say(shared, "change.tally", board=t.board.name, approvals=t.approvals, needed=t.needed)
            for t in short
        ]
        shared_needs = say(shared, "approvals.needs_from", tallies=listing(shared, shared_tallies))
    else:
        result = approval.outcome(change_type, ballots)
        needs = say(lang, "change.needs")
        shared_needs = say(shared, "approvals.needs")
    # The version bump makes concurrent deciders conflict, so one transition wins.
    ticket.updated_at = ctx.now
    if result is not None:
        ticket.status = result
        await follow_release(ctx, ticket)
    ctx.log(
        ticket, decision.value, comment=comment or None, outcome=result.value if result else None
    )
    verb = "approved" if decision is Decision.APPROVED else "rejected"
    state = say(lang, "change.now", status=status_label(result, lang)) if result else needs
    if result is not None:
        told = language_of(ticket.requester, ticket)
        ctx.notify_requester(
            ticket,
            Reply(
                text=say(
                    told,
                    "change.decided_by",
                    ref=ticket.ref,
                    status=status_label(result, told),
                    name=ctx.person.name,
                )
                + (say(told, "change.comment", comment=comment) if comment else ""),
                card=card(ticket, lang=told),
                ticket_ref=ticket.ref,
            ),
        )
        ctx.announce(
            "approvals",
            Reply(
                text=say(
                    shared,
                    "approvals.decided",
                    ref=ticket.ref,
                    status=status_label(result, shared),
                    name=ctx.person.name,
                ),
                card=card(ticket, lang=shared),
                ticket_ref=ticket.ref,
                replaces=True,
            ),
        )
    if result is None:
        # Other board members still decide: the approvals card is redrawn with its buttons
        # at the version this approval leaves (flushed now, so the buttons carry it), and
        # the clicker alone hears that their approval was counted.
        await ctx.uow.flush()
        redraw = Reply(
            text=say(
                shared,
                "approvals.approved_by",
                ref=ticket.ref,
                name=ctx.person.name,
                needs=shared_needs,
            ),
            card=card(ticket, lang=shared),
            buttons=decision_buttons(ticket, shared),
            ticket_ref=ticket.ref,
            replaces=True,
        )
        ctx.announce("approvals", redraw)
        mine = Reply(
            text=say(lang, f"change.you_{verb}", ref=ticket.ref, state=state),
            ticket_ref=ticket.ref,
            ephemeral=ctx.via_action,
        )
        # A click redraws the card it was made on; the announcement skips that conversation.
        return [redraw, mine] if ctx.via_action else [mine]
    return [
        Reply(
            text=say(lang, f"change.you_{verb}", ref=ticket.ref, state=state),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
            replaces=ctx.via_action,
        )
    ]


def _comment(nlu: Understanding) -> str:
    """What the decider said beyond "approve CHG-12": the reason, if they gave one."""
    text = nlu.text
    for e in sorted(nlu.entities, key=lambda e: e.start, reverse=True):
        if e.entity == EntityName.TICKET_REF and e.end > e.start:
            text = text[: e.start] + text[e.end :]
    words = text.replace(",", " ").split()
    return nlu.text[:1000] if len(words) > 3 else ""


async def _which_change(ctx: HandlerContext, decision: Decision, lang: str = "en") -> Reply:
    verb = "approve" if decision is Decision.APPROVED else "reject"
    if not ctx.person.has_role(Role.APPROVER):
        return Reply(text=say(lang, f"change.which_{verb}"))
    # Only what this person may decide: a board's change is offered to its members alone.
    waiting = (await decidable(ctx, limit=200))[:5]
    if not waiting:
        return Reply(text=say(lang, "change.none_waiting"))
    lines = [say(lang, f"change.which_{verb}_waiting")]
    lines += [f"• {t.ref} · {t.title}" for t in waiting]
    buttons = tuple(
        Button(label=say(lang, f"change.button_{verb}", ref=t.ref), action=verb, value=t.ref)
        for t in waiting
    )
    return Reply(text="\n".join(lines), buttons=buttons)
