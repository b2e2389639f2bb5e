"""The console conversation through the whole pipeline: inbox, queue, worker, outbox, channel."""

from __future__ import annotations

import pytest

from bot.config import Settings
from bot.console_session import ConsoleSession, ConversationError
from nlu.types import Understander
from store.enums import Priority, Status


async def ticket(settings: Settings, ref: str):  # type: ignore[no-untyped-def]
    from store.db import create_engine, session_factory
    from store.uow import UnitOfWork

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            t = await uow.tickets.by_ref(ref)
            events = await uow.tickets.events(t.id) if t else []
            return t, [(e.action, e.channel, e.actor.name if e.actor else None) for e in events]
    finally:
        await engine.dispose()


async def test_report_follow_and_resolve(
    any_settings: Settings, understander: Understander
) -> None:
    async with ConsoleSession(any_settings, "alice@example.com", understander=understander) as s:
        [report] = await s.say("The VPN is down for the whole office, nobody can work!!")
        assert report.ticket_ref == "INC-1"
        assert "INC-1" in report.text
        assert report.card is not None
        assert report.card.priority == Priority.P1.value

        [status] = await s.say("what's the status of INC-1?")
        assert "INC-1" in status.text
        assert "new" in status.text

        [listing] = await s.say("show me my tickets")
        assert "INC-1" in listing.text

        [done] = await s.say("it works again now, thanks a lot")
        assert "INC-1" in done.text
        assert "resolved" in done.text

    t, events = await ticket(any_settings, "INC-1")
    assert t is not None
    assert t.status is Status.RESOLVED
    assert [a for a, _, _ in events] == ["created", "resolved"]
    assert {c for _, c, _ in events} == {"console"}
    assert {who for _, _, who in events} == {"Alice Example"}


async def test_unknown_reference_gets_a_clear_answer(
    demo_settings: Settings, understander: Understander
) -> None:
    async with ConsoleSession(demo_settings, "alice@example.com", understander=understander) as s:
        [reply] = await s.say("status of INC-999")
        assert "couldn't find INC-999" in reply.text


async def test_unknown_person_is_refused_with_advice(
    demo_settings: Settings, understander: Understander
) -> None:
    with pytest.raises(ConversationError, match="seed --demo"):
        async with ConsoleSession(demo_settings, "nobody@example.com", understander=understander):
            pass
