"""A console conversation through the full pipeline: inbox, queue, worker, outbox, channel.

Used by `switchboard chat` and by tests that drive the bot end to end in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from rich.console import Console

from bot.config import Settings
from bot.container import ALL_ROLES, Container, Overrides, build_container
from bot.runtime import Background
from channels.console import ConsoleChannel, render
from channels.conversation import Action, Address, Message, Reply
from nlu.types import Understander
from store.enums import InboxStatus, OutboxStatus
from store.queue import InProcessQueue
from store.state import LocalState


class ConversationError(RuntimeError):
    """The person is unknown, or the bot did not answer in time."""


class ConsoleSession:
    """`async with ConsoleSession(settings, email) as s: replies = await s.say("hi")`."""

    def __init__(
        self,
        settings: Settings,
        email: str,
        console: Console | None = None,
        *,
        understander: Understander | None = None,
        timeout: float = 60.0,
        on_reply: Callable[[Reply], None] | None = None,
    ) -> None:
        self.settings = settings
        self.email = email.strip().lower()
        self.console = console
        self.timeout = timeout
        self.on_reply = on_reply
        self.understander = understander
        self.replies: list[Reply] = []
        self.channel = ConsoleChannel(self._write)
        self.container: Container | None = None
        self.person_name = email
        self._stack = contextlib.AsyncExitStack()

    async def _write(self, address: Address, reply: Reply) -> None:
        self.replies.append(reply)
        if self.on_reply is not None:
            self.on_reply(reply)
        if self.console is not None:
            self.console.print(f"[bold cyan]bot>[/bold cyan] {_escape(render(reply))}")

    async def __aenter__(self) -> ConsoleSession:
        # The console owns its queue: replies must be printed by this process's dispatcher.
        overrides = Overrides(
            queue=InProcessQueue(),
            state=LocalState(),
            understander=self.understander,
            channels=[self.channel],
            only_conversations=[self.channel.address(self.email).key],
        )
        container = build_container(self.settings, roles=ALL_ROLES, overrides=overrides)
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(container.aclose)
            # Asked before opening, so an unknown person hears it before the model loads.
            async with container.uow() as uow:
                person = await uow.people.by_email(self.email)
                name = person.name if person is not None else None
            if name is None:
                raise ConversationError(
                    f"No person with email {self.email}. Run `switchboard seed --demo` or "
                    "`switchboard people import FILE` first."
                )
            self.person_name = name
            await stack.enter_async_context(container)
            await stack.enter_async_context(Background(container))
            self.container = container
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def say(self, text: str) -> list[Reply]:
        """Send one message and return the replies the bot sent back to this conversation."""
        return await self.send(self.channel.message(text, user=self.email))

    async def click(self, action: str, value: str = "") -> list[Reply]:
        """Press a button (an action with its value)."""
        return await self.send(self.channel.action(action, value, user=self.email))

    async def send(self, event: Message | Action) -> list[Reply]:
        """Put the event through the pipeline; the replies it brought to this conversation."""
        assert self.container is not None
        before = len(self.replies)
        await self.container.ingress(event)
        await self._wait(event.event_id)
        return self.replies[before:]

    async def _wait(self, event_id: str) -> None:
        assert self.container is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            async with self.container.uow() as uow:
                row = await uow.inbox.find("console", event_id)
                if row is not None and row.status is not InboxStatus.PENDING:
                    key = self.channel.address(self.email).key
                    rows = await uow.outbox.for_inbox(row.id)
                    mine = [r for r in rows if r.conversation_key == key]
                    if all(
                        r.status is not OutboxStatus.PENDING
                        and r.status is not OutboxStatus.SENDING
                        for r in mine
                    ):
                        return
            await asyncio.sleep(0.02)
        raise ConversationError("The bot did not answer in time.")


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
