"""How a service-level clock records what it did and reaches the people it tells.

Shared by the clock's warnings and breaches (`handlers.escalation`), the closing of resolved
tickets (`handlers.auto_close`) and on-call paging (`handlers.paging`): the events carry the
`sla` channel and no actor, and each notice goes to addresses or a person, in their language.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from channels.conversation import Address, Reply
from handlers.context import Outgoing
from handlers.replies import language_of, say
from store.models import Group, ServiceLevel, Ticket
from store.uow import UnitOfWork

CHANNEL = "sla"
"""The channel recorded on events the clocks cause: no person acted."""


def record(uow: UnitOfWork, ticket: Ticket, action: str, now: datetime, **detail: Any) -> None:
    """Record an event the clock caused on the ticket, at the clock's `now`."""
    # The event carries the clock's `now`, so a test's injected time and the paging waits
    # measured from these events agree.
    event = uow.tickets.log(ticket, action, actor=None, channel=CHANNEL, **detail)
    event.at = now


def hhmm(at: datetime) -> str:
    """A time of day as the notices show it."""
    return at.strftime("%H:%M UTC")


def group_addresses(group: Group | None) -> list[Address]:
    """The group's Slack channel and Telegram chat, where it has them."""
    if group is None:
        return []
    return [
        Address(channel=platform, conversation=chat, user="")
        for platform, chat in (("slack", group.slack_channel), ("telegram", group.telegram_chat))
        if chat
    ]


async def person_addresses(uow: UnitOfWork, person_id: int | None) -> list[Address]:
    """Where the person is reached, if anywhere."""
    if person_id is None:
        return []
    found = await uow.desk.reach(person_id)
    return [Address.from_dict(found)] if found else []


async def person_language(
    uow: UnitOfWork, person_id: int | None, ticket: Ticket | None = None
) -> str:
    """The language of the one person told."""
    person = await uow.people.get(person_id) if person_id is not None else None
    return language_of(person, ticket)


def target_name(lang: str, word: str) -> str:
    """The name of a target ("response", "resolution") in the language."""
    return say(lang, f"sla.target.{word}")


def send(addresses: Sequence[Address], reply: Reply) -> list[Outgoing]:
    """The reply, once to each address."""
    return [Outgoing(reply=reply, address=a) for a in addresses]


async def agreement(uow: UnitOfWork, ticket: Ticket) -> ServiceLevel | None:
    """The service-level agreement the ticket runs under, if it names one."""
    return await uow.desk.named(ServiceLevel, ticket.sla_name) if ticket.sla_name else None
