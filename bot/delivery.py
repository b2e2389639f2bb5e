"""Turning a handler's notifications into outbox rows addressed to real conversations."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from channels.conversation import Address, Reply
from channels.twilio.rules import WINDOW, WINDOW_MARGIN
from handlers.context import Outgoing
from store.models import OutboxMessage
from store.types import utcnow
from store.uow import UnitOfWork

READ_FROM_OUTBOX = frozenset({"webchat"})
"""Platforms whose pages read committed replies from the outbox themselves: a reply to one
is delivered when its transaction commits."""


def add_reply(
    uow: UnitOfWork, address: Address, reply: Reply, *, inbox_id: int | None
) -> OutboxMessage:
    """The outbox row for one reply (its `id` stays None when `once_key` says it was sent).

    A page's reply is stored as sent, with nothing left for a dispatcher to claim, unless
    it holds a secret: the dispatcher forgets that text once it is sent, so it stays
    pending until the page has had its turn to read it.
    """
    return uow.outbox.add(
        platform=address.channel,
        conversation_key=address.key,
        address=address.to_dict(),
        reply=reply.to_dict(),
        inbox_id=inbox_id,
        ticket_ref=reply.ticket_ref,
        dedup_key=once_key(address, reply),
        delivered=address.channel in READ_FROM_OUTBOX and not reply.sensitive,
    )


def once_key(address: Address, reply: Reply) -> str | None:
    """The key under which a reply goes out at most once, across all workers; None if none.

    A card edit is made once per conversation and card state: the decider's answer and the
    approvals announcement may both redraw one channel card. A private notice about a
    ticket (a losing approval click) reaches each person once per card state, however
    often they click.
    """
    if reply.ticket_ref is None:
        return None
    if reply.card is not None:
        state = f"{reply.card.version}:{reply.card.status}"
    else:
        state = hashlib.sha256(reply.text.encode()).hexdigest()[:16]
    if reply.ephemeral:
        who = address.user or address.key
        return _bounded(
            f"notice:{address.channel}:{address.conversation}:{who}:{reply.ticket_ref}:{state}"
        )
    if reply.replaces and reply.card is not None:
        return _bounded(f"edit:{address.key}:{reply.ticket_ref}:{state}")
    return None


def _bounded(key: str) -> str:
    """Keys fit the column; a long one is replaced by its digest."""
    return key if len(key) <= 300 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def add_outgoing(
    uow: UnitOfWork,
    outgoing: Sequence[Outgoing],
    *,
    topics: Callable[[str], Sequence[Address]],
    exclude: Address | None,
    inbox_id: int | None,
    whatsapp_template: bool = False,
) -> list[OutboxMessage]:
    """Outbox rows for notifications: a person's last conversation, or a topic's channels.

    `whatsapp_template` says an approved template is configured, so WhatsApp may open a
    conversation with someone who never wrote (as `HandlerContext.whatsapp_template`).
    """
    rows = []
    for out in outgoing:
        for address in await _addresses(uow, out, topics, whatsapp_template):
            if exclude is not None and address.key == exclude.key:
                continue
            rows.append(add_reply(uow, address, out.reply, inbox_id=inbox_id))
    return rows


async def _addresses(
    uow: UnitOfWork,
    out: Outgoing,
    topics: Callable[[str], Sequence[Address]],
    whatsapp_template: bool,
) -> list[Address]:
    if out.address is not None:
        return [out.address]
    if out.topic is not None:
        return list(topics(out.topic))
    if out.person_id is not None:
        # The handlers' rules of reach load with the first person addressed: a web process
        # serving only webhooks never holds them.
        from handlers.approvers import reach

        contact = await uow.people.last_contact(out.person_id)
        if contact is not None and contact[0]:
            address = Address.from_dict(contact[0])
            if whatsapp_template or not _window_closed(address, contact[1]):
                return [address]
            # Twilio refuses free text on WhatsApp once the 24-hour window has closed and
            # no template is configured: another linked channel carries it instead.
            other = await reach(uow, out.person_id, whatsapp_template=False)
            return [other or address]
        # Someone who never wrote to the bot (an approver, a new assignee): open a
        # conversation on a linked account where the platform allows the bot to start one.
        reached = await reach(uow, out.person_id, whatsapp_template=whatsapp_template)
        return [reached] if reached is not None else []
    return []


def _window_closed(address: Address, seen: datetime | None) -> bool:
    """Whether free text to this WhatsApp address would fall outside the 24-hour window.

    `seen` is when the person last wrote from it (kept to within minutes); the margin
    leaves room for the queue, as the Twilio channel's own record does.
    """
    if address.channel != "whatsapp":
        return False
    if seen is None:
        return True
    if seen.tzinfo is None:
        seen = seen.replace(tzinfo=utcnow().tzinfo)
    return utcnow() - seen > WINDOW - WINDOW_MARGIN
