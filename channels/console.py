"""The console channel: a conversation in the terminal (`switchboard chat`) and in tests."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from starlette.routing import BaseRoute

from channels.base import Delivery, Ingest
from channels.conversation import Action, Address, Identity, Message, Reply

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
        return []

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def address(self, user: str) -> Address:
        """One conversation per person, so a later session picks up where the last one was."""
        return Address(channel="console", conversation=user, user=user)

    def identity(self, user: str) -> Identity:
        return Identity(platform="console", external_id=user, email=user if "@" in user else None)

    def message(self, text: str, *, user: str, event_id: str | None = None) -> Message:
        return Message(
            event_id=event_id or uuid.uuid4().hex,
            address=self.address(user),
            sender=self.identity(user),
            text=text,
            received_at=datetime.now(UTC),
        )

    def action(self, name: str, value: str = "", *, user: str) -> Action:
        return Action(
            event_id=uuid.uuid4().hex,
            address=self.address(user),
            sender=self.identity(user),
            name=name,
            value=value,
        )

    async def send(self, address: Address, reply: Reply) -> Delivery:
        await self._write(address, reply)
        return Delivery()
