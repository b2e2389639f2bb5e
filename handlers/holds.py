"""Putting a ticket on hold from chat: waiting for the customer or a supplier, with the reason."""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, language_of, say, status_label
from handlers.rules import lifecycle
from handlers.service_levels import hold
from handlers.tickets import card, find_ticket
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role, Status

_REF = re.compile(r"(?<![A-Za-z0-9])(?:INC|REQ|PRB|CHG)-\d+(?!\d)|#\d+", re.IGNORECASE)
_COMMAND = re.compile(
    r"<@\w+>|\b(?:please|pls|can\s+you|could\s+you|put|place|set|mark|pause|park|freeze|hold"
    r"|on\s+hold|to\s+on\s+hold|as|the\s+sla\s+on|the\s+ticket|it|this)\b",
    re.IGNORECASE,
)
_COMMAND_ZH = re.compile(r"把|先|挂起|暂停处理|暂停|暂缓|设为|吧")
_REASON_WORDS = 2
_REASON_CJK = 2


def reason_of(text: str) -> str | None:
    """What is left of "put INC-4 on hold until Monday, waiting for the vendor" as the reason."""
    rest = _COMMAND_ZH.sub(" ", _COMMAND.sub(" ", _REF.sub(" ", text)))
    rest = " ".join(rest.split()).strip(" ,.:;-?!，。：；！？的")
    if not rest.isascii():
        rest = re.sub(r"^[\s，,。]+|(?<=[^\x00-\x7f])\s+(?=[^\x00-\x7f])", "", rest)
        return rest if len(rest) >= _REASON_CJK else None
    return rest if len(rest.split()) >= _REASON_WORDS else None


@registry.intent(IntentName.PUT_ON_HOLD, actions=("put_on_hold",))
async def put_on_hold(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Put a ticket on hold with the reason: "hold INC-4, waiting for the vendor" (agents)."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "hold.agents_only"))]
    if nlu.first(EntityName.TICKET_REF) is None and not ctx.params.get("ref"):
        return [Reply(text=say(lang, "hold.which"))]
    ticket, problem = await find_ticket(nlu, ctx, fallback=None)
    if ticket is None:
        return [problem] if problem else []
    if ticket.status is Status.ON_HOLD:
        return [Reply(text=say(lang, "hold.already", ref=ticket.ref), ticket_ref=ticket.ref)]
    if not lifecycle.can_move(ticket.kind, ticket.status, Status.ON_HOLD):
        return [
            Reply(
                text=say(
                    lang, "hold.cannot", ref=ticket.ref, status=status_label(ticket.status, lang)
                ),
                ticket_ref=ticket.ref,
            )
        ]
    reason = ctx.params.get("reason") or reason_of(ctx.params.get("said") or ctx.text)
    if not reason:
        ctx.expect(
            "reason",
            intent=IntentName.PUT_ON_HOLD.value,
            params={"ref": ticket.ref},
        )
        return [
            Reply(
                text=say(lang, "hold.ask_reason", ref=ticket.ref),
                ticket_ref=ticket.ref,
            )
        ]
    reason = reason[:1000]
    before = ticket.status
    ticket.status = Status.ON_HOLD
    ticket.updated_at = ctx.now
    await hold(ctx, ticket)
    ctx.log(ticket, "status", reason=reason, **{"from": before.value, "to": Status.ON_HOLD.value})
    ctx.notify_requester(
        ticket,
        Reply(
            text=say(
                language_of(ticket.requester, ticket),
                "hold.told_requester",
                ref=ticket.ref,
                reason=reason,
            ),
            card=card(ticket, lang=language_of(ticket.requester, ticket)),
            ticket_ref=ticket.ref,
        ),
    )
    return [
        Reply(
            text=say(lang, "hold.done", ref=ticket.ref, reason=reason),
            card=card(ticket, lang=lang),
            ticket_ref=ticket.ref,
        )
    ]
