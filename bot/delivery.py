"""Turning a handler's notifications into outbox rows addressed to real conversations."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from channels.conversation import Address, Reply
from handlers.context import Outgoing
from store.models import OutboxMessage
from store.uow import UnitOfWork


def add_reply(
    uow: UnitOfWork, address: Address, reply: Reply, *, inbox_id: int | None
) -> OutboxMessage:
    return uow.outbox.add(
        platform=address.channel,
        conversation_key=address.key,
        address=address.to_dict(),
        reply=reply.to_dict(),
        inbox_id=inbox_id,
        ticket_ref=reply.ticket_ref,
    )


async def add_outgoing(
    uow: UnitOfWork,
    outgoing: Sequence[Outgoing],
    *,
    topics: Callable[[str], Sequence[Address]],
    exclude: Address | None,
    inbox_id: int | None,
) -> list[OutboxMessage]:
    """Outbox rows for notifications: a person's last conversation, or a topic's channels."""
    rows = []
    for out in outgoing:
        for address in await _addresses(uow, out, topics):
            if exclude is not None and address.key == exclude.key:
                continue
            rows.append(add_reply(uow, address, out.reply, inbox_id=inbox_id))
    return rows


async def _addresses(
    uow: UnitOfWork, out: Outgoing, topics: Callable[[str], Sequence[Address]]
) -> list[Address]:
    if out.address is not None:
        return [out.address]
    if out.topic is not None:
        return list(topics(out.topic))
    if out.person_id is not None:
        data = await uow.people.last_address(out.person_id)
        if data:
            return [Address.from_dict(data)]
    return []
