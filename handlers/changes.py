"""Changes: request one in chat, to be approved or rejected by its boards or the approvers.

A request asks for the window when the message names none, records the incidents and
problems it fixes, and is put to the change's boards (`handlers.change_boards`) or the
desk's approvers. Approving and rejecting are in `handlers.change_decisions`; their names,
and those of the boards' rules, stay importable from here.
"""

from __future__ import annotations

from datetime import datetime

from channels.conversation import Reply
from handlers.approvers import decision_buttons, notify_approvers
from handlers.change_boards import (
    affected_names,
    board_names,
    boards_of,
    decision_refusal,
    listing,
    notify_board,
    told_sentence,
)
from handlers.change_decisions import approve, reject
from handlers.context import HandlerContext
from handlers.incidents import level_of, service_named
from handlers.registry import registry
from handlers.replies import channel_language, language, say
from handlers.rules import approval, quorum
from handlers.tickets import can_see, card, open_ticket, title_from
from nlu.types import EntityName, IntentName, Understanding
from store.enums import ChangeType, Level, Status, TicketKind

# Deciding lives in `handlers.change_decisions` and the boards' rules in
# `handlers.change_boards`; callers read these names from here.
__all__ = [
    "affected_names",
    "approve",
    "boards_of",
    "decision_buttons",
    "decision_refusal",
    "notify_board",
    "reject",
    "request_change",
    "told_sentence",
]


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
            boards=board_names(boards, lang),
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
    fixing = say(lang, "change.fixes", refs=listing(lang, fixes)) if fixes else ""
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
