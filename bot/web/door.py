"""How the web pages talk to the desk: the same inbox, worker and handlers as chat.

A signed-in person's web conversation is a web chat conversation of their own
(`u_<person id>`), bound to them in the directory the first time they use it, so the worker
resolves them like any chat sender, their replies land in the same outbox, and a ticket
raised here has its origin here. Anonymous web chat visitors have `v_` ids, which can never
name a person.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping

from fastapi import Request
from sqlalchemy import func, select

from bot.container import Container
from bot.web.auth import SignInRequired, container_of, current_person
from channels.base import IngestOutcome
from channels.conversation import Action, Address, Identity, Reply
from store.models import OutboxMessage, Person
from store.uow import UnitOfWork

PLATFORM = "webchat"
WAIT_SECONDS = 8.0
POLL_SECONDS = 0.1


def visitor_of(person: Person) -> str:
    """The person's web conversation id, `u_<person id>` (visitors' `v_` ids never clash)."""
    return f"u_{person.id}"


def address_of(person: Person) -> Address:
    """The person's own web conversation, where their pages' messages and replies go."""
    visitor = visitor_of(person)
    return Address(channel=PLATFORM, conversation=visitor, user=visitor)


async def ensure_identity(uow: UnitOfWork, person: Person) -> None:
    """Bind the person's web conversation to them (once)."""
    visitor = visitor_of(person)
    if await uow.people.identity(PLATFORM, visitor) is None:
        await uow.people.bind_identity(
            person, PLATFORM, visitor, address=address_of(person).to_dict()
        )


async def identify(request: Request) -> str | None:
    """The web chat conversation of the person signed in to the web pages, if anyone is."""
    try:
        person = await current_person(request)
    except SignInRequired:
        return None
    async with container_of(request).uow() as uow:
        await ensure_identity(uow, person)
        await uow.commit()
    return visitor_of(person)


async def _last_reply_id(uow: UnitOfWork, key: str) -> int:
    stmt = select(func.max(OutboxMessage.id)).where(
        OutboxMessage.platform == PLATFORM, OutboxMessage.conversation_key == key
    )
    return int((await uow.session.execute(stmt)).scalar_one() or 0)


def submission_id(value: str | None) -> str:
    """The form's own id (so a double click files once), or a fresh one when it is unusable."""
    if value and 8 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value):
        return value
    return uuid.uuid4().hex


async def act(
    container: Container,
    person: Person,
    *,
    name: str,
    submission: str,
    value: str = "",
    params: Mapping[str, str] | None = None,
    text: str = "",
) -> list[Reply]:
    """Hand the desk an action as this person and wait (briefly) for what it answers.

    Returns the replies committed for it, or none when the worker has not answered within
    `WAIT_SECONDS` (the page then says the request was received).
    """
    address = address_of(person)
    async with container.uow() as uow:
        await ensure_identity(uow, person)
        after = await _last_reply_id(uow, address.key)
        await uow.commit()
    event = Action(
        event_id=f"{visitor_of(person)}:portal:{submission}",
        address=address,
        sender=Identity(platform=PLATFORM, external_id=visitor_of(person)),
        name=name,
        value=value,
        params=dict(params or {}),
        text=text,
    )
    if await container.ingest(event) is IngestOutcome.DUPLICATE:
        return []  # the same form sent twice: the first one is being handled
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = await container.history(address.key, after)
        if found or time.monotonic() >= deadline:
            return [reply for _, reply in found]
        await asyncio.sleep(POLL_SECONDS)
