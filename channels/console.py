"""The console channel: a conversation in the terminal (`switchboard chat`) and in tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from channels.base import Delivery, Ingest
from channels.conversation import Action, Address, Identity, Message, Reply

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

Writer = Callable[[Address, Reply], Awaitable[None]]


def render(reply: Reply) -> str:
    """Plain text for a terminal: the text, the card, numbered choices."""
    return reply.fallback_text()


class ConsoleChannel:
    """Replies go to a writer callback; events are built with `message()` and `action()`."""

    name: ClassVar[str] = "console"
    platforms: ClassVar[tuple[str, ...]] = ("console",)

    def __init__(self, write: Writer) -> None:
        self._write = write

    def routes(self, ingest: Ingest) -> Sequence[BaseRoute]:
        """None: the console's events are built in process, not posted."""
        return []

    async def start(self) -> None:
        """Nothing to open."""

    async def aclose(self) -> None:
        """Nothing to close."""

    def address(self, user: str) -> Address:
        """One conversation per person, so a later session picks up where the last one was."""
        return Address(channel="console", conversation=user, user=user)

    def identity(self, user: str) -> Identity:
        """The console user; a name with an `@` is taken as their email, to find them."""
        return Identity(platform="console", external_id=user, email=user if "@" in user else None)

    def message(self, text: str, *, user: str, event_id: str | None = None) -> Message:
        """A line typed by `user`, as an inbound message received now."""
        return Message(
            event_id=event_id or uuid.uuid4().hex,
            address=self.address(user),
            sender=self.identity(user),
            text=text,
            received_at=datetime.now(UTC),
        )

    def action(self, name: str, value: str = "", *, user: str) -> Action:
        """A button pressed or command given by `user`."""
        return Action(
            event_id=uuid.uuid4().hex,
            address=self.address(user),
            sender=self.identity(user),
            name=name,
            value=value,
        )

    async def send(self, address: Address, reply: Reply) -> Delivery:
        """Hand the reply to the writer; the terminal keeps no message ids."""
        await self._write(address, reply)
        return Delivery()
