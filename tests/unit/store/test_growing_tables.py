"""Questions asked of tables that grow with every message are answered through an index.

A statement that reads a whole table is as fast as any other on a test database; on a desk
with a year of history it holds SQLite's single writer for tens of milliseconds each time.
These tests run the hot path's look-ups on SQLite against a database with a history
(`benchmarks.history`), record every statement SQLite ran, and count the virtual machine
steps each takes (SQLite's progress handler) before and after the history grows tenfold.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from benchmarks.history import fill
from bot.demo import seed_demo
from store import recipients
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.enums import PersonKind, Role, TicketKind
from store.migrate import upgrade_engine
from store.tickets import thread_key
from store.types import utcnow
from store.uow import UnitOfWork

STEP = 50


class Statements:
    """Every statement SQLite runs on the connections opened while recording."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.recording = False

    def __call__(self, sql: str) -> None:
        if self.recording:
            self.seen.append(sql)


@pytest.fixture
async def traced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Any, SessionFactory, Statements, Path]]:
    statements = Statements()
    connect = sqlite3.connect

    def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = connect(*args, **kwargs)
        connection.set_trace_callback(statements)
        return connection

    monkeypatch.setattr(sqlite3, "connect", traced_connect)
    path = tmp_path / "history.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await upgrade_engine(engine)
    factory = session_factory(engine)
    async with UnitOfWork(factory) as uow:
        await seed_demo(uow)
        await uow.commit()
    await fill(engine, 300)
    try:
        yield engine, factory, statements, path
    finally:
        await engine.dispose()


def steps(path: Path, sql: str) -> int:
    """How many virtual machine steps SQLite takes to run `sql` (undone afterwards)."""
    taken = 0

    def count() -> int:
        nonlocal taken
        taken += STEP
        return 0

    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.set_progress_handler(count, STEP)
        db.execute("BEGIN")
        db.execute(sql).fetchall()
        db.execute("ROLLBACK")
    finally:
        db.close()
    return taken


def _reads(statements: list[str]) -> list[str]:
    return [
        sql
        for sql in dict.fromkeys(statements)
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "WITH"))
    ]


async def _grown(engine: Any, path: Path, asked: list[str]) -> dict[str, tuple[int, int]]:
    """The statements whose work more than doubles once the history grows tenfold."""
    before = {sql: steps(path, sql) for sql in asked}
    await fill(engine, 3000)
    after = {sql: steps(path, sql) for sql in asked}
    return {
        sql[:300]: (before[sql], after[sql]) for sql in asked if after[sql] > 2 * before[sql] + 500
    }


async def _look_ups(factory: SessionFactory, person_id: int, visitor: str) -> None:
    async with UnitOfWork(factory) as uow:
        service = await uow.session.scalar(text("SELECT min(id) FROM services"))
        await uow.people.prefetch_identities(
            [("webchat", visitor), ("slack", "U0ADA"), ("sms", "+15550000")]
        )
        assert await uow.people.identity("webchat", visitor) is not None
        assert await uow.people.identity("slack", "U0ADA") is not None
        assert await uow.people.by_email("ADA@example.com ") is not None
        assert await recipients.channels(uow.session, person_id)
        assert await uow.people.last_address(person_id) is not None
        await uow.problems.recurrence_candidates(int(service), utcnow() - timedelta(days=1))
        assert await uow.tickets.by_origin("slack", "C0HELP", "1.2") is None
        await uow.alerts.open_reports([int(service)], utcnow() - timedelta(hours=1))
        await uow.outbox.claim(["webchat", "slack"])
        await uow.dialogue.purge_expired()
        await uow.commit()


async def test_the_hot_paths_look_ups_do_not_grow_with_the_history(
    traced: tuple[Any, SessionFactory, Statements, Path],
) -> None:
    engine, factory, statements, path = traced
    async with UnitOfWork(factory) as uow:
        person = await uow.people.create(
            name="Ada", email="ada@example.com", kind=PersonKind.EMPLOYEE, roles=[Role.REQUESTER]
        )
        await uow.people.bind_identity(person, "slack", "U0ADA", address={"channel": "slack"})
        visitor = await uow.session.scalar(
            text("SELECT max(external_id) FROM channel_identities WHERE platform = 'webchat'")
        )
        await uow.commit()
    statements.recording = True
    await _look_ups(factory, person.id, str(visitor))
    statements.recording = False
    asked = _reads(statements.seen)
    assert len(asked) >= 9
    assert await _grown(engine, path, asked) == {}


async def test_the_count_sees_a_whole_table_read(
    traced: tuple[Any, SessionFactory, Statements, Path],
) -> None:
    engine, _factory, _statements, path = traced
    sql = "SELECT id FROM outbox WHERE reply = '{}'"
    before = steps(path, sql)
    await fill(engine, 3000)
    assert steps(path, sql) > 5 * before


async def test_a_thread_ticket_is_found_by_its_key(
    traced: tuple[Any, SessionFactory, Statements, Path],
) -> None:
    _engine, factory, _statements, _path = traced
    origin = {"channel": "slack", "conversation": "C0HELP", "user": "U1", "thread": "17.5"}
    async with UnitOfWork(factory) as uow:
        requester = await uow.people.create(
            name="Bo", email=None, kind=PersonKind.CONTACT, roles=[Role.REQUESTER]
        )
        made = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="Printer", requester=requester, origin=origin
        )
        await uow.commit()
    async with UnitOfWork(factory) as uow:
        found = await uow.tickets.by_origin("slack", "C0HELP", "17.5")
        assert found is not None
        assert found.id == made.id
        assert found.origin_thread == thread_key("slack", "C0HELP", "17.5")
        assert await uow.tickets.by_origin("slack", "C0HELP", "17.6") is None
        assert await uow.tickets.by_origin("slack", "C0OTHER", "17.5") is None


async def test_the_upgrade_keys_the_tickets_already_filed_from_threads(database_url: str) -> None:
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        await upgrade_engine(engine, "0032")
        async with engine.begin() as conn:
            person = (
                await conn.execute(
                    text(
                        "INSERT INTO people (name, kind, active, created_at, devices) "
                        "VALUES ('Cy', 'contact', true, CURRENT_TIMESTAMP, '[]') RETURNING id"
                    )
                )
            ).scalar_one()
            for number, origin in (
                (1, '{"channel": "slack", "conversation": "C0HELP", "thread": "17.5"}'),
                (2, '{"channel": "telegram", "conversation": "-100", "thread": 42}'),
                (3, '{"channel": "webchat", "conversation": "v1", "thread": null}'),
                (4, None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO tickets (kind, number, ref, title, description, status,"
                        " requester_id, origin, escalation_level, created_at, updated_at,"
                        " version, sla_paused_seconds) VALUES ('incident', :n, :ref, 't', '',"
                        " 'new', :p, :origin, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 0)"
                    ),
                    {"n": number, "ref": f"INC-{number}", "p": person, "origin": origin},
                )
        await upgrade_engine(engine)
        async with engine.connect() as conn:
            keys = dict(
                (await conn.execute(text("SELECT number, origin_thread FROM tickets"))).all()
            )
        assert keys == {
            1: thread_key("slack", "C0HELP", "17.5"),
            2: thread_key("telegram", "-100", 42),
            3: None,
            4: None,
        }
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            found = await uow.tickets.by_origin("telegram", "-100", "42")
            assert found is not None
            assert found.number == 2
    finally:
        await engine.dispose()


async def test_tickets_filed_after_the_history_number_on_from_it(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    try:
        await upgrade_engine(engine)
        await fill(engine, 25)  # INC-1 to INC-25, on a desk that had filed none
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            requester = await uow.people.create(name="Di", kind=PersonKind.CONTACT)
            made = await uow.tickets.create(
                kind=TicketKind.INCIDENT, title="After", requester=requester
            )
            await uow.commit()
        assert made.number == 26
    finally:
        await engine.dispose()


async def test_a_weeks_reports_do_not_grow_with_the_history(
    traced: tuple[Any, SessionFactory, Statements, Path],
) -> None:
    from handlers.improvements import candidates
    from handlers.reports import desk_figures

    engine, factory, statements, path = traced
    now = utcnow()
    statements.recording = True
    async with UnitOfWork(factory) as uow:
        await desk_figures(uow, since=now - timedelta(days=7), until=now, sentiment=False)
        await candidates(uow, now)
    statements.recording = False
    asked = _reads(statements.seen)
    assert len(asked) >= 8
    assert await _grown(engine, path, asked) == {}


async def test_the_consoles_reads_do_not_grow_with_the_history(
    traced: tuple[Any, SessionFactory, Statements, Path],
) -> None:
    from store.console import UNASSIGNED, QueueFilter

    engine, factory, statements, path = traced
    async with UnitOfWork(factory) as uow:
        agent = await uow.session.scalar(text("SELECT min(id) FROM people"))
        requester = await uow.people.create(name="Di", kind=PersonKind.CONTACT)
        opened = await uow.tickets.create(
            kind=TicketKind.INCIDENT, title="Open now", requester=requester
        )
        await uow.commit()
    statements.recording = True
    async with UnitOfWork(factory) as uow:
        for f in (QueueFilter(), QueueFilter(assignee=UNASSIGNED), QueueFilter(channel="slack")):
            await uow.console.queue(f)
            await uow.console.count(f)
        await uow.console.group_loads()
        await uow.console.awaiting_decision(int(agent))
        await uow.console.majors(closed_since=utcnow() - timedelta(days=7))
        ticket = await uow.tickets.get(opened.id)
        assert ticket is not None
        assert [t.id for t in await uow.console.queue(QueueFilter())] == [opened.id]
        await uow.console.timeline(ticket)
    statements.recording = False
    asked = _reads(statements.seen)
    assert len(asked) >= 8
    assert await _grown(engine, path, asked) == {}
