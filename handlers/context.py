"""What a handler is given: the unit of work, who is asking, from where, and where replies go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.conversation import Address, Reply
from store.models import Person, Ticket
from store.uow import UnitOfWork

Tally = Callable[[str, int, int], Awaitable[int]]
"""`(key, window_seconds, add) -> count`: a windowed counter shared by every worker."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A reply for someone other than the person asking, or for an announcement topic."""

    reply: Reply
    person_id: int | None = None
    address: Address | None = None
    topic: str | None = None


ANSWER_ACTION = "answer"
"""A button whose value answers the question asked last, exactly as if it had been typed
(the choices of a form field offered as a keyboard)."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """A question the handler asked: the next message answers it.

    The router stores this per conversation; the answer comes back to the same intent's
    handler with `params[slot]` set (to the value of entity `entity` when the answer has
    one, else to the answer's text), along with the `params` kept here.
    """

    intent: str
    slot: str
    entity: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass
class HandlerContext:
    """Everything a handler may touch, passed explicitly.

    `notify` reaches another person on the channel they last used; `announce` posts to a
    topic (`major_incident`, `approvals`) that the application maps to configured channels.
    `carry` is kept with the choices a reply offers and comes back in `params` when the
    person picks one of them (the words of a message that needed a confirmation).
    `mail` says whether mail is set up (`SMTP_URL`): without it an `email` notification
    would wait in the outbox forever, so handlers tell the person instead.
    """

    uow: UnitOfWork
    person: Person
    address: Address
    now: datetime
    text: str = ""
    inbox_id: int | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    via_action: bool = False
    help_entries: Sequence[tuple[str, str]] = ()
    outgoing: list[Outgoing] = field(default_factory=list)
    expecting: Expectation | None = None
    counter: Tally | None = None
    carry: Mapping[str, str] = field(default_factory=dict)
    mail: bool = False
    # The language the person last wrote words in, kept with the dialogue: a click or a bare
    # answer ("2") has none of its own.
    written_in: str | None = None
    # An approved WhatsApp template is configured (`TWILIO_WHATSAPP_TEMPLATE_SID`): WhatsApp
    # can then reach someone outside its 24-hour window.
    whatsapp_template: bool = False

    @property
    def channel(self) -> str:
        """The channel the message came through."""
        return self.address.channel

    async def tally(self, key: str, window_seconds: int, add: int = 1) -> int:
        """Count events under `key` over a window shared by all workers; the current count.

        `add=0` reads without counting. Without a counter (a bare context) nothing is counted.
        """
        if self.counter is None:
            return 0
        return await self.counter(key, window_seconds, add)

    def notify(self, person_id: int | None, reply: Reply) -> None:
        """Tell another person `reply`; the person who sent the message is answered directly."""
        if person_id is not None and person_id != self.person.id:
            self.outgoing.append(Outgoing(reply=reply, person_id=person_id))

    def notify_requester(self, ticket: Ticket, reply: Reply) -> None:
        """Tell the requester where they raised the ticket (same chat, same thread)."""
        if ticket.requester_id == self.person.id:
            return
        if ticket.origin:
            self.outgoing.append(Outgoing(reply=reply, address=Address.from_dict(ticket.origin)))
        else:
            self.notify(ticket.requester_id, reply)

    def announce(self, topic: str, reply: Reply) -> None:
        """Post `reply` to the channels that follow `topic`."""
        self.outgoing.append(Outgoing(reply=reply, topic=topic))

    def expect(
        self,
        slot: str,
        *,
        intent: str,
        entity: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        """Ask for `slot`: the person's next message fills it and re-runs the handler."""
        self.expecting = Expectation(
            intent=intent, slot=slot, entity=entity, params=dict(params or {})
        )

    def log(self, ticket: Ticket, action: str, **detail: Any) -> None:
        """Record a ticket event by the person asking, through the channel they used."""
        self.uow.tickets.log(
            ticket,
            action,
            actor=self.person,
            channel=self.address.channel,
            external_user=self.address.user,
            inbox_id=self.inbox_id,
            **detail,
        )
