"""Who decides a change: the boards of what it affects, and whether the person asking may.

Who decides a normal change is its change advisory boards' business (`handlers.rules.quorum`):
the boards of every service it touches or that depends on what it touches. Without a board,
and for emergency changes, the desk-wide policy holds (`handlers.rules.approval`). Here too are
the sentences that name the boards and who was told of a change waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable

from channels.conversation import Reply
from handlers.approvers import Notified
from handlers.approvers import reach as reach_person
from handlers.cmdb import reach
from handlers.context import HandlerContext, Outgoing
from handlers.replies import language_of, say
from handlers.rules import approval, quorum
from store.enums import ChangeType, TicketKind
from store.models import Person, Service, Ticket
from store.uow import UnitOfWork


def listing(lang: str, items: list[str]) -> str:
    """Items run together as the language lists them ("a, b" / "a、b")."""
    return say(lang, "change.list_sep").join(items)


def told_sentence(lang: str, told: Notified) -> str:
    """Who was told of a change waiting for them, and who could not be reached."""
    if lang == "en":
        return told.sentence()
    parts = []
    if told.reached:
        parts.append(say(lang, "change.told", names=listing(lang, list(told.reached))))
    if told.unreached:
        parts.append(say(lang, "change.unreached", names=listing(lang, list(told.unreached))))
    if not parts:
        return say(lang, "change.no_approver")
    return "".join(parts)


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


def board_names(boards: list[quorum.Board], lang: str = "en") -> str:
    """The boards named as the language writes them ("the change boards Payroll and Mail")."""
    names = [b.name for b in boards]
    head = listing(lang, names[:-1])
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
