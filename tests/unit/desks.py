"""A desk file applied to a database, and handlers run in it as a directory person."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from bot.desk.apply import apply
from bot.desk.files import read
from channels.conversation import Address, Reply
from handlers.context import HandlerContext, Outgoing
from nlu.types import Entity, IntentName, Understanding
from store.db import SessionFactory
from store.models import Ticket
from store.uow import UnitOfWork

Handler = Callable[[Understanding, HandlerContext], Awaitable[list[Reply]]]


def write(tmp_path: Path, text: str, name: str = "desk.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


async def load_desk(factory: SessionFactory, tmp_path: Path, text: str) -> None:
    """Apply a desk file (written under `tmp_path`) and commit."""
    async with UnitOfWork(factory) as uow:
        await apply(uow, read([write(tmp_path, text)]))
        await uow.commit()


async def say_as(
    factory: SessionFactory,
    handler: Handler,
    who: str,
    text: str,
    *,
    now: datetime,
    entities: tuple[Entity, ...] = (),
    intent: IntentName = IntentName.REPORT_INCIDENT,
) -> tuple[list[Reply], list[Outgoing]]:
    """`who` (an email) says `text` on the console; the handler's replies and messages."""
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email(who)
        assert person is not None
        ctx = HandlerContext(
            uow=uow,
            person=person,
            address=Address(channel="console", conversation=who, user=who),
            now=now,
            text=text,
        )
        nlu = Understanding(text=text, intent=intent, confidence=0.9, entities=entities)
        replies = await handler(nlu, ctx)
        await uow.commit()
    return replies, list(ctx.outgoing)


async def ticket(factory: SessionFactory, ref: str) -> Ticket:
    async with UnitOfWork(factory) as uow:
        found = await uow.tickets.by_ref(ref)
        assert found is not None
        return found
