"""Two approvers deciding one step at the same moment are counted together (the row lock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.demo import seed_demo
from bot.desk.apply import apply
from bot.desk.files import read
from channels.conversation import Address
from handlers import catalog
from handlers.context import HandlerContext
from nlu.types import IntentName, Understanding
from store.db import SessionFactory
from store.enums import Status
from store.uow import UnitOfWork

DESK = """
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: security, members: [frank@example.com, carol@example.com]}
catalog:
  - name: Database access
    approvals: [{by: group, group: security, quorum: 2}]
    fulfilment: {group: hardware}
"""


def context(uow: UnitOfWork, person: object, ref: str = "") -> HandlerContext:
    return HandlerContext(
        uow=uow,
        person=person,  # type: ignore[arg-type]
        address=Address(channel="console", conversation="c", user="u"),
        now=datetime.now(UTC),
        params={"ref": ref},
    )


async def decide(factory: SessionFactory, email: str, ref: str) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email(email)
        nlu = Understanding(text="", intent=IntentName.APPROVE, confidence=1.0)
        await catalog.approve_request(nlu, context(uow, person, ref))
        await uow.commit()


async def test_simultaneous_approvals_reach_the_quorum(
    factory: SessionFactory, tmp_path: Path
) -> None:
    path = tmp_path / "desk.yml"
    path.write_text(DESK, "utf-8")
    async with UnitOfWork(factory) as uow:
        await seed_demo(uow)
        await apply(uow, read([path]))
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        alice = await uow.people.by_email("alice@example.com")
        item = await uow.catalog.named("Database access")
        assert item is not None
        ticket = await catalog.place_order(context(uow, alice), item, {}, "")
        ref = ticket.ref
        await uow.commit()
    await asyncio.gather(
        decide(factory, "frank@example.com", ref), decide(factory, "carol@example.com", ref)
    )
    async with UnitOfWork(factory) as uow:
        decided = await uow.tickets.by_ref(ref)
        assert decided is not None
        assert decided.status is Status.NEW
        assert len(await uow.catalog.decisions(decided.id)) == 2
