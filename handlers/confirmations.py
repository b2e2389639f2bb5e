"""Which ticket a state change is about, and a yes before acting on a guess.

Resolve, reopen, escalate and notes act only when both the intent and the ticket are
certain: the ticket was named (or is the only one the change can apply to) and the intent's
confidence clears its threshold in `rules/confirm.py`. Otherwise the person is asked, with
the ticket named, and the answer comes back as a button action that carries the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.conversation import Button, ButtonStyle, Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, say, status_label
from handlers.rules import confirm
from handlers.tickets import can_work, find_ticket, not_found
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Status
from store.models import Ticket

ACTIONS = {
    IntentName.RESOLVE_TICKET: "resolve",
    IntentName.REOPEN_TICKET: "reopen",
    IntentName.ESCALATE: "escalate",
    IntentName.ADD_INFO: "add_note",
    IntentName.APPROVE: "approve",
    IntentName.REJECT: "reject",
}
KEEP = "keep"
# English button labels; other languages come from the catalog (`confirm.yes`, `confirm.no`).
YES, NO = "Yes", "No"
_LISTED = 5


@dataclass(frozen=True, slots=True)
class Target:
    """The outcome of the check: a ticket to act on, a question to ask, or a new report."""

    ticket: Ticket | None = None
    replies: tuple[Reply, ...] = ()
    report: bool = False


async def target(nlu: Understanding, ctx: HandlerContext, intent: IntentName) -> Target:
    """The ticket `intent` may act on now, or what to ask the person first."""
    named = nlu.first(EntityName.TICKET_REF) is not None or bool(ctx.params.get("ref"))
    if named:
        ticket, problem = await find_ticket(nlu, ctx, fallback=None)
        if ticket is None:
            return Target(replies=(problem,) if problem else ())
        if not can_work(ctx.person, ticket):
            return Target(replies=(not_found(ticket.ref, ctx),))
        if ctx.via_action or confirm.is_certain(intent, nlu.confidence):
            return Target(ticket=ticket)
        return Target(replies=(ask(intent, ticket, ctx),))
    candidates = await _candidates(ctx, intent)
    services = set(nlu.values(EntityName.SERVICE))
    fitting = [t for t in candidates if not services or (t.service and t.service.name in services)]
    if not fitting:
        if intent is not IntentName.RESOLVE_TICKET and (services or _reads_as_report(nlu)):
            return Target(report=True)
        if candidates:
            return Target(replies=(which(intent, candidates, ctx),))
        return Target(replies=(_none(intent, ctx),))
    if len(fitting) > 1:
        return Target(replies=(which(intent, fitting, ctx),))
    ticket = fitting[0]
    if confirm.is_certain(intent, nlu.confidence):
        return Target(ticket=ticket)
    return Target(replies=(ask(intent, ticket, ctx),))


def _reads_as_report(nlu: Understanding) -> bool:
    """Reopen and escalate words with no ticket to act on describe a problem not yet reported."""
    return nlu.intent is IntentName.REOPEN_TICKET or any(
        i is IntentName.REPORT_INCIDENT for i, _ in nlu.ranked()[:3]
    )


async def _candidates(ctx: HandlerContext, intent: IntentName) -> list[Ticket]:
    if intent is IntentName.REOPEN_TICKET:
        mine = await ctx.uow.tickets.for_requester(ctx.person.id, open_only=False, limit=50)
        return [t for t in mine if t.status is Status.RESOLVED]
    return await ctx.uow.tickets.for_requester(ctx.person.id, open_only=True, limit=50)


def _keep_words(ctx: HandlerContext) -> None:
    """What the person said becomes the note or reason once they confirm."""
    if ctx.text and not ctx.via_action:
        ctx.carry = {**ctx.carry, "note": ctx.text[:4000]}


def ask(intent: IntentName, ticket: Ticket, ctx: HandlerContext) -> Reply:
    """Ask "Resolve INC-7 'VPN drops from home'? Yes / No", keeping what was said for the yes."""
    lang = language(ctx)
    action = ACTIONS[intent]
    _keep_words(ctx)
    return Reply(
        text=say(lang, f"confirm.{action}", ref=ticket.ref, title=ticket.title),
        buttons=(
            Button(
                label=say(lang, "confirm.yes"),
                action=action,
                value=ticket.ref,
                style=ButtonStyle.PRIMARY,
            ),
            Button(label=say(lang, "confirm.no"), action=KEEP, value=ticket.ref),
        ),
        ticket_ref=ticket.ref,
    )


def which(intent: IntentName, tickets: list[Ticket], ctx: HandlerContext) -> Reply:
    """Several tickets fit: list them and let the person pick one (or none)."""
    _keep_words(ctx)
    lang = language(ctx)
    action = ACTIONS[intent]
    shown = tickets[:_LISTED]
    lines = "\n".join(
        say(lang, "confirm.line", ref=t.ref, title=t.title, status=status_label(t.status, lang))
        for t in shown
    )
    buttons = [Button(label=f"{t.ref} {t.title[:30]}", action=action, value=t.ref) for t in shown]
    buttons.append(Button(label=say(lang, "confirm.none_of_these"), action=KEEP))
    question = say(lang, f"confirm.which.{action}")
    return Reply(text=f"{question}\n{lines}", buttons=tuple(buttons))


def _none(intent: IntentName, ctx: HandlerContext) -> Reply:
    which = "ticket.which_resolved" if intent is IntentName.REOPEN_TICKET else "ticket.which_open"
    return Reply(text=say(language(ctx), which))


@registry.action(KEEP)
async def keep(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """The person said no to a confirmation: nothing changes."""
    ref = ctx.params.get("ref", "")
    # A typed "否" reaches here as the button's action, with the message's language.
    lang = language(ctx, nlu)
    if ref:
        return [Reply(text=say(lang, "confirm.kept", ref=ref), ticket_ref=ref, replaces=True)]
    return [Reply(text=say(lang, "confirm.kept_all"), replaces=True)]
