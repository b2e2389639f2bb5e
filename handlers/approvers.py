"""Approvers in chat: told personally when something awaits them, and what is waiting.

An approver may never have written to the bot, so the message goes to the first of their
linked accounts that the bot can open a conversation on: where they last wrote, else a Slack
direct message, else their Telegram chat (linked accounts have started the bot), else SMS.
WhatsApp is used unprompted only with an approved template: outside the 24-hour window the
Twilio channel sends the template (`TWILIO_WHATSAPP_TEMPLATE_SID`) with the message as its
variable. Without one, someone who last wrote on WhatsApp is reached by the other channels
first, their number by SMS among them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from channels.conversation import Address, Button, ButtonStyle, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import registry
from handlers.replies import date_text, language, language_of, say
from handlers.tickets import card
from nlu.types import IntentName, Understanding
from store.enums import Role
from store.models import Person, Ticket
from store.uow import UnitOfWork

_DIRECT = ("slack", "telegram")
_LISTED = 5
# Changes waiting for approval that are looked through for the ones this person may decide.
_SCANNED = 200


def decision_buttons(ticket: Ticket, lang: str = "en") -> tuple[Button, ...]:
    """The Approve and Reject buttons of a request's approval card, in the reader's language."""
    return (
        Button(
            label=say(lang, "approvers.approve"),
            action="approve",
            value=ticket.ref,
            style=ButtonStyle.PRIMARY,
        ),
        Button(
            label=say(lang, "approvers.reject"),
            action="reject",
            value=ticket.ref,
            style=ButtonStyle.DANGER,
        ),
    )


async def reach(
    uow: UnitOfWork, person_id: int, *, whatsapp_template: bool = False
) -> Address | None:
    """Where a message can reach this person without their having written first."""
    identities = await uow.queues.identities(person_id)
    unsure: Address | None = None
    for ident in identities:
        if ident.last_address:
            address = Address.from_dict(ident.last_address)
            if address.channel != "whatsapp" or whatsapp_template:
                return address
            # Free text reaches WhatsApp only within 24 hours of their last message.
            unsure = unsure or address
    for platform in _DIRECT:
        for ident in identities:
            if ident.platform == platform:
                return Address(
                    channel=platform, conversation=ident.external_id, user=ident.external_id
                )
    for ident in identities:
        if ident.platform == "phone":
            return Address(channel="sms", conversation=ident.external_id, user=ident.external_id)
    return unsure


@dataclass(frozen=True, slots=True)
class Notified:
    """Who was told, and who could not be reached on any linked channel."""

    reached: tuple[str, ...] = ()
    unreached: tuple[str, ...] = ()

    def sentence(self, lang: str = "en") -> str:
        """Who was told and who could not be reached, as one sentence for the reply."""
        parts = []
        if self.reached:
            parts.append(say(lang, "approvers.told", names=", ".join(self.reached)))
        if self.unreached:
            parts.append(say(lang, "approvers.unreached", names=", ".join(self.unreached)))
        if not parts:
            return say(lang, "approvers.nobody")
        return ("" if lang == "zh" else " ").join(parts)


def eligible(people: list[Person], ticket: Ticket) -> list[Person]:
    """Approvers who may decide this ticket: never the person who asked for it."""
    return [p for p in people if p.id != ticket.requester_id and p.active]


async def notify_approvers(
    ctx: HandlerContext, ticket: Ticket, ask: Callable[[str], Reply]
) -> Notified:
    """Send `ask` to every eligible approver personally, in their language.

    Returns who was reached and who was not.
    """
    reached: list[str] = []
    unreached: list[str] = []
    for approver in eligible(await ctx.uow.people.with_role(Role.APPROVER), ticket):
        address = await reach(ctx.uow, approver.id, whatsapp_template=ctx.whatsapp_template)
        if address is None:
            unreached.append(approver.name)
            continue
        ctx.outgoing.append(Outgoing(reply=ask(language_of(approver)), address=address))
        reached.append(approver.name)
    return Notified(reached=tuple(reached), unreached=tuple(unreached))


async def decidable(ctx: HandlerContext, *, limit: int) -> list[Ticket]:
    """The changes waiting for approval that this person may decide now.

    That leaves out their own, those they decided already, and, for a change with boards,
    those whose boards they do not sit on.
    """
    # The change policy builds on this module (decision buttons, reaching approvers), so it
    # is imported on use.
    from handlers.changes import decision_refusal

    return [
        ticket
        for ticket in await ctx.uow.tickets.awaiting_approval(limit=limit)
        if await decision_refusal(ctx, ticket) is None
    ]


@registry.intent(IntentName.PENDING_APPROVALS)
async def pending_approvals(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """See what waits for your approval: "what's waiting for my approval?" (approvers)."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.APPROVER, Role.ADMIN):
        return [Reply(text=say(lang, "approvers.only"))]
    waiting = await decidable(ctx, limit=_SCANNED)
    if not waiting:
        return [Reply(text=say(lang, "approvers.none_waiting"))]
    shown = waiting[:_LISTED]
    more = say(lang, "approvers.showing", count=len(shown)) if len(waiting) > len(shown) else ""
    lines = [say(lang, "approvers.waiting", count=len(waiting), more=more)]
    for t in shown:
        when = f", {date_text(t.planned_start, lang)}" if t.planned_start else ""
        lines.append(
            say(lang, "approvers.line", ref=t.ref, title=t.title, name=t.requester.name, when=when)
        )
    replies = [Reply(text="\n".join(lines))]
    replies += [
        Reply(
            text=f"{t.ref}: {t.title}",
            card=card(t, lang=lang),
            buttons=decision_buttons(t, lang),
            ticket_ref=t.ref,
        )
        for t in shown
    ]
    return replies
