"""A catalog order through the whole pipeline (inbox, worker, dialogue state, outbox)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.config import Settings
from bot.console_session import ConsoleSession
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import Status
from store.models import OutboxMessage
from store.uow import UnitOfWork
from tests.e2e.test_cmdb_api import load

DESK = """
groups:
  - {name: hardware, members: [bob@example.com]}
catalog:
  - name: New laptop
    aliases: [laptop]
    fields:
      - {name: model, label: Which model, type: choice, choices: [14-inch, 16-inch]}
      - {name: needed_by, label: Needed by, type: date}
    approval: manager
    fulfilment:
      group: hardware
      target: 3d
      tasks:
        - {name: Image the laptop, group: hardware}
        - {name: Hand it over, group: hardware}
"""


async def setup(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "desk.yml"
    path.write_text(DESK, "utf-8")
    await load(settings, path)
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            dan = await uow.people.by_email("dan@example.com")
            assert alice is not None
            assert dan is not None
            alice.manager_id = dan.id
            await uow.commit()
    finally:
        await engine.dispose()


async def state(settings: Settings, ref: str) -> tuple[Status, str | None, list[str]]:
    """The request's status and group, and the texts queued for the console user `dan`."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            t = await uow.tickets.by_ref(ref)
            assert t is not None
            rows = await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.conversation_key.contains("dan@"))
            )
            return t.status, t.group.name if t.group else None, [r.reply["text"] for r in rows]
    finally:
        await engine.dispose()


async def test_order_approve_and_route_through_the_pipeline(
    any_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    await setup(any_settings, tmp_path)
    # Dan has written before, so the bot knows where to reach him.
    async with ConsoleSession(any_settings, "dan@example.com", understander=understander) as s:
        await s.say("hello")
    async with ConsoleSession(any_settings, "alice@example.com", understander=understander) as s:
        [asked] = await s.say("I need a new laptop")
        assert "Which model?" in asked.text
        [asked] = await s.say("16-inch")
        assert "Needed by?" in asked.text
        [summary] = await s.say("2026-12-24")
        assert "Submit it?" in summary.text
        [opened] = await s.say("yes")
    assert opened.ticket_ref == "REQ-1", opened.text
    status, group, to_dan = await state(any_settings, "REQ-1")
    assert status is Status.AWAITING_APPROVAL
    assert any("Alice Example asks for New laptop (REQ-1)" in t for t in to_dan), to_dan
    async with ConsoleSession(any_settings, "dan@example.com", understander=understander) as s:
        replies = await s.click("approve_request", "REQ-1")
    assert "You approved REQ-1." in replies[-1].text, [r.text for r in replies]
    status, group, _ = await state(any_settings, "REQ-1")
    assert status is Status.NEW
    assert group == "hardware"

    # The two tasks, one after the other, by an agent of the group; then Alice hears.
    async with ConsoleSession(any_settings, "bob@example.com", understander=understander) as s:
        [early] = await s.click("complete_task", "REQ-1/2")
        assert "REQ-1/2 is waiting for an earlier task." in early.text
        [first] = await s.click("complete_task", "REQ-1/1")
        assert "Next: task REQ-1/2: Hand it over." in first.text
        [last] = await s.click("complete_task", "REQ-1/2")
        assert "REQ-1 is resolved." in last.text
    status, _, _ = await state(any_settings, "REQ-1")
    assert status is Status.RESOLVED
