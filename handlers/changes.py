"""Changes: request one, and approve or reject it in chat.

Who decides a normal change is its change advisory boards' business (`handlers.rules.quorum`):
the boards of every service it touches or that depends on what it touches. Without a board,
and for emergency changes, the desk-wide policy holds (`handlers.rules.approval`). Chat,
buttons, the console and the REST API all decide through `_decide`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from channels.conversation import Button, Reply
from handlers import confirmations
from handlers.approvers import Notified, decidable, notify_approvers
from handlers.approvers import decision_buttons as decision_buttons
from handlers.approvers import reach as reach_person
from handlers.change_lifecycle import follow_release
from handlers.cmdb import reach
from handlers.context import HandlerContext, Outgoing
from handlers.incidents import level_of, service_named
from handlers.registry import registry
from handlers.replies import channel_language, language, language_of, say, status_label
from handlers.rules import approval, confirm, quorum
from handlers.rules import releases as release_rules
from handlers.tickets import can_see, card, find_ticket, open_ticket, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import ChangeType, Decision, Level, Role, Status, TicketKind
from store.models import Person, Service, Ticket
from store.uow import UnitOfWork


def _window(nlu: Understanding, ctx: HandlerContext) -> datetime | None:
    candidates = []
    ent = nlu.first(EntityName.DATETIME)
    if ent is not None:
        candidates.append(ent.value)
    if ctx.params.get("window"):
        candidates.append(ctx.params["window"])
    for value in candidates:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            continue
        if parsed.tzinfo is not None:
            return parsed
    return None


@registry.intent(IntentName.REQUEST_CHANGE)
async def request_change(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Request a change: "restart the mail server on Saturday 22:00"."""
    text = ctx.params.get("original_text") or ctx.text
    lang = language(ctx, nlu)
    window = _window(nlu, ctx)
    asked = int(ctx.params.get("asked_window", "0"))
    if window is None and asked < 2:
        hint = say(lang, "change.when_hint") if asked else ""
        ctx.expect(
            "window",
            intent=IntentName.REQUEST_CHANGE.value,
            entity=EntityName.DATETIME.value,
            params={**_carry(ctx), "original_text": text, "asked_window": str(asked + 1)},
        )
        return [Reply(text=say(lang, "change.when", hint=hint))]
    service, _named = await service_named(ctx, nlu)
    fixes = await _fixes(nlu, ctx)
    urgent = level_of(nlu, EntityName.URGENCY) is Level.HIGH
    change_type = ChangeType.EMERGENCY if urgent else ChangeType.NORMAL
    status = Status.AWAITING_APPROVAL if approval.needs_approval(change_type) else Status.APPROVED
    ticket = await open_ticket(
        ctx,
        kind=TicketKind.CHANGE,
        title=title_from(text),
        description=text,
        service=service,
        status=status,
        change_type=change_type,
        urgency=Level.HIGH if urgent else Level.MEDIUM,
        planned_start=window,
        log={
            "change_type": change_type.value,
            "window": window.isoformat() if window else None,
            "fixes": fixes or None,
        },
    )

    def ask(reader: str) -> Reply:
        return Reply(
            text=say(
                reader,
                "approvals.requests",
                name=ctx.person.name,
                ref=ticket.ref,
                title=ticket.title,
            ),
            card=card(ticket, lang=reader),
            buttons=decision_buttons(ticket, reader),
            ticket_ref=ticket.ref,
        )

    shared = await channel_language(ctx.uow)
    ctx.announce("approvals", ask(shared))
    boards = await boards_of(ctx.uow, ticket)
    told = None
    if status is Status.AWAITING_APPROVAL:
        if quorum.applies(change_type, boards):
            told = await notify_board(ctx, ticket, ask, boards)
        else:
            told = await notify_approvers(ctx, ticket, ask)
    when = say(lang, "change.for_window", when=_when(window, lang)) if window else ""
    sent = say(lang, "change.sent_none")
    if told:
        sent = say(lang, "change.sent_approvers", told=told_sentence(lang, told))
    if told and quorum.applies(change_type, boards):
        sent = say(
            lang,
            "change.sent_boards",
            boards=_board_names(boards, lang),
            told=told_sentence(lang, told),
        )
        for short in quorum.unreachable(boards, ticket.requester_id):
            sent += say(
                lang,
                "change.board_short",
                board=short.board.name,
                eligible=short.eligible,
                needed=short.needed,
            )
    fixing = say(lang, "change.fixes", refs=_listing(lang, fixes)) if fixes else ""
    return [
        Reply(
            text=say(lang, "change.raised", ref=ticket.ref, when=when, sent=sent, fixing=fixing),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]


def _when(window: datetime, lang: str) -> str:
    zone = window.tzname() or "UTC"
    if lang == "en":
        return f"{window:%a %d %b %H:%M} {zone}"
    return f"{window:%Y-%m-%d %H:%M} {zone}"


def _listing(lang: str, items: list[str]) -> str:
    """Items run together as the language lists them ("a, b" / "a、b")."""
    return say(lang, "change.list_sep").join(items)


def told_sentence(lang: str, told: Notified) -> str:
    """Who was told of a change waiting for them, and who could not be reached."""
    if lang == "en":
        return told.sentence()
    parts = []
    if told.reached:
        parts.append(say(lang, "change.told", names=_listing(lang, list(told.reached))))
    if told.unreached:
        parts.append(say(lang, "change.unreached", names=_listing(lang, list(told.unreached))))
    if not parts:
        return say(lang, "change.no_approver")
    return "".join(parts)


async def _fixes(nlu: Understanding, ctx: HandlerContext) -> list[str]:
    """The incidents and problems a change request names ("... to fix INC-4").

    They are recorded on the change, and a problem named is resolved when the change
    completes successfully.
    """
    found: list[str] = []
    text = ctx.params.get("original_text") or ctx.text or nlu.text
    for word in text.split():
        ref = word.strip(".,;:()!?").upper()
        if ref[:4] not in ("INC-", "PRB-") or ref in found:
            continue
        ticket = await ctx.uow.tickets.by_ref(ref)
        kinds = (TicketKind.INCIDENT, TicketKind.PROBLEM)
        # Only tickets the person may see: the answer must not reveal that others exist.
        if ticket is not None and ticket.kind in kinds and can_see(ctx.person, ticket):
            found.append(ticket.ref)
    return found


def _carry(ctx: HandlerContext) -> dict[str, str]:
    return {k: v for k, v in ctx.params.items() if k == "service"}


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
                lang, "change.not_on_board", ref=ticket.ref, boards=_board_names(boards, lang)
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
        needs = say(lang, "change.needs_from", tallies=_listing(lang, tallies))
        shared_tallies = [
            say(shared, "change.tally", board=t.board.name, approvals=t.approvals, needed=t.needed)
            for t in short
        ]
        shared_needs = say(shared, "approvals.needs_from", tallies=_listing(shared, shared_tallies))
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


async def affected_names(uow: UnitOfWork, ticket: Ticket) -> list[str]:
    """The services a change affects, through the configuration database.

    They are the items it touches (else its service) and everything that depends on them.
    """
    touched = [sid for sid, _ in (await uow.changes.items([ticket.id])).get(ticket.id, [])]
    if not touched and ticket.service_id is not None:
        touched = [ticket.service_id]
    ids: dict[int, None] = dict.fromkeys(touched)
    for item in touched:
        ids.update(dict.fromkeys(await reach(uow, item)))
    names = []
    for sid in ids:
        found = await uow.session.get(Service, sid)
        if found is not None:
            names.append(found.name)
    return names


async def boards_of(uow: UnitOfWork, ticket: Ticket) -> list[quorum.Board]:
    """The change advisory boards of every service the change affects."""
    if ticket.kind is not TicketKind.CHANGE:
        return []
    found = await uow.changes.boards_for(await affected_names(uow, ticket))
    return [quorum.Board(b.name, members, b.quorum) for b, members in found]


async def decision_refusal(
    ctx: HandlerContext,
    ticket: Ticket,
    shown_version: int | None = None,
    *,
    boards: list[quorum.Board] | None = None,
) -> approval.Refusal | None:
    """None when the person asking may approve or reject this change now, else why not.

    The desk-wide policy decides first, then, for a normal change with boards, a seat on one
    of them.
    """
    ballots = [
        approval.Ballot(a.approver_id, a.decision)
        for a in await ctx.uow.tickets.approvals(ticket.id)
    ]
    refusal = approval.may_decide(
        approver_id=ctx.person.id,
        approver_roles=ctx.person.role_set,
        requester_id=ticket.requester_id,
        status=ticket.status,
        earlier=ballots,
        shown_version=shown_version,
        current_version=ticket.version,
    )
    if refusal is not None:
        return refusal
    found = await boards_of(ctx.uow, ticket) if boards is None else boards
    change_type = ticket.change_type or ChangeType.NORMAL
    if quorum.applies(change_type, found) and not quorum.may_vote(
        ctx.person.id, ticket.requester_id, found
    ):
        return approval.Refusal.NOT_ON_BOARD
    return None


def _board_names(boards: list[quorum.Board], lang: str = "en") -> str:
    names = [b.name for b in boards]
    head = _listing(lang, names[:-1])
    listed = say(lang, "change.and", head=head, last=names[-1]) if head else names[-1]
    key = "change.boards" if len(names) > 1 else "change.board"
    return say(lang, key, listed=listed)


async def notify_board(
    ctx: HandlerContext, ticket: Ticket, ask: Callable[[str], Reply], boards: list[quorum.Board]
) -> Notified:
    """Send `ask` once, in their language, to every board member of the change but its requester."""
    ids = sorted(frozenset().union(*(b.members for b in boards)) - {ticket.requester_id})
    reached: list[str] = []
    unreached: list[str] = []
    for pid in ids:
        person = await ctx.uow.session.get(Person, pid)
        if person is None:
            continue
        address = await reach_person(ctx.uow, pid)
        if address is None:
            unreached.append(person.name)
            continue
        ctx.outgoing.append(Outgoing(reply=ask(language_of(person)), address=address))
        reached.append(person.name)
    return Notified(reached=tuple(reached), unreached=tuple(unreached))
