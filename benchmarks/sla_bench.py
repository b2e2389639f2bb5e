"""`switchboard bench sla`: the service-level watcher with many open tickets.

Two datasets on throw-away databases: the big one (100,000 open tickets by default, of which
1,000 have a warning due in the next minute) and a reference with only the 1,000. For each:
the time to compute every ticket's due times with the real rules (an office calendar for the
bulk, round the clock for the urgent ones), then the watcher playing that minute as it
would run: wake at the next instant, tick (acting on the ticket due, with its event, its
notification and its commit), look up the next instant. The idle tick is the fixed cost
of a tick with nothing due. A tick's cost should not depend on how many
tickets are open, so the ratio of the two medians should stay near 1.

Then the rest of the minute's first seconds are played once a second (a watcher that fell
behind, or many tickets due in the same second): each tick acts on about `due / 60`
tickets. Beside both, the bare write: one ticket read by id, changed and committed on the
same database, the floor of any tick that acts. On a busy machine the ticks' ratios to it
say more than their milliseconds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sla_watch import SlaWatch
from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, Calendar, parse_duration
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.enums import Priority, Status, TicketKind
from store.migrate import upgrade_engine
from store.models import Group, Person, ServiceLevel, Ticket
from store.uow import UnitOfWork

PG_ENV = "SWITCHBOARD_TEST_DATABASE_URL"
OFFICE = Calendar.build("office", "Europe/Berlin", "Mon-Fri 08:00-18:00", [])
BULK = sla.Policy(
    name="standard",
    applies_to=sla.AppliesTo(),
    calendar=OFFICE,
    targets={Priority.P3: sla.Targets(parse_duration("4h"), parse_duration("3d"))},
)
URGENT = sla.Policy(
    name="urgent",
    applies_to=sla.AppliesTo(),
    calendar=ALWAYS,
    targets={Priority.P1: sla.Targets(parse_duration("20m"), parse_duration("4h"))},
)

Step = Callable[[str, int, int], None]
"""`(what, done, total)`: progress for the caller's bar."""


@dataclass
class Figures:
    """One dataset's measurements."""

    database: str
    open_tickets: int
    due_in_minute: int
    compute_seconds: float
    insert_seconds: float
    idle_tick_ms: float
    ticks: int
    tickets_acted: int
    tick_p50_ms: float
    tick_p99_ms: float
    tick_max_ms: float
    minute_seconds: float
    second_ticks: int
    second_tickets_acted: int
    second_tick_p50_ms: float
    second_tick_p99_ms: float
    second_tick_max_ms: float
    bare_write_ms: float

    def as_dict(self) -> dict[str, Any]:
        """The figures by field name, for `--json`."""
        return asdict(self)


def _clocks(now: datetime, total: int, due: int, step: Step) -> list[sla.Clock]:
    """`due` urgent tickets warning within the minute after `now`, the rest well later."""
    clocks: list[sla.Clock] = []
    for i in range(total):
        if i < due:
            # The 20 m response warns at 15 m: opened 15 m before an instant in the minute.
            warn = now + timedelta(seconds=60 * (i + 1) / due)
            clock = sla.start(URGENT, Priority.P1, warn - timedelta(minutes=15))
        else:
            clock = sla.start(BULK, Priority.P3, now - timedelta(seconds=(i * 7) % 1800))
        assert clock is not None
        clocks.append(clock)
        if i % 5000 == 0:
            step("computing due times", i, total)
    step("computing due times", total, total)
    return clocks


async def _fill(url: str, now: datetime, total: int, due: int, step: Step) -> tuple[float, float]:
    engine = _engine(url)
    try:
        await upgrade_engine(engine)
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            person = Person(name="Bench Requester", email="bench@example.com")
            group = Group(name="ops", slack_channel="C0OPS")
            uow.session.add_all([person, group])
            uow.session.add_all([ServiceLevel(name=p.name, targets={}) for p in (BULK, URGENT)])
            await uow.commit()
            person_id, group_id = person.id, group.id
        started = time.perf_counter()
        clocks = _clocks(now, total, due, step)
        computed = time.perf_counter() - started
        started = time.perf_counter()
        chunk = 5000
        for first in range(0, total, chunk):
            rows = [
                _row(n, clocks[n], now, person_id, group_id)
                for n in range(first, min(total, first + chunk))
            ]
            async with engine.begin() as conn:
                await conn.execute(insert(Ticket), rows)
            step("inserting tickets", min(total, first + chunk), total)
        inserted = time.perf_counter() - started
        if engine.dialect.name == "postgresql":
            # What autovacuum would do after a load this size: the planner's figures.
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE tickets"))
        return computed, inserted
    finally:
        await engine.dispose()


def _row(n: int, clock: sla.Clock, now: datetime, person_id: int, group_id: int) -> dict[str, Any]:
    return {
        "kind": TicketKind.INCIDENT,
        "number": n + 1,
        "ref": f"INC-{n + 1}",
        "title": f"Generated ticket {n + 1}",
        "description": "",
        "status": Status.NEW,
        "priority": Priority.P1 if clock.policy == URGENT.name else Priority.P3,
        "requester_id": person_id,
        "group_id": group_id,
        "escalation_level": 0,
        "created_at": clock.started_at,
        "updated_at": clock.started_at,
        "version": 1,
        "sla_name": clock.policy,
        "response_warn_at": clock.response_warn_at,
        "response_due_at": clock.response_due_at,
        "resolve_warn_at": clock.resolve_warn_at,
        "resolve_due_at": clock.resolve_due_at,
        "sla_paused_seconds": 0,
        "sla_next_at": sla.next_due(clock, now),
    }


WARM_UP = 5
"""Wake-ups played before measuring, so both datasets start with warm caches and statements."""


def _spread(costs: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, rounded."""
    if not costs:
        return 0.0, 0.0, 0.0
    ranked = sorted(costs)
    p99 = ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))]
    return round(statistics.median(ranked), 2), round(p99, 2), round(ranked[-1], 2)


async def _bare_writes(factory: SessionFactory, count: int = 50) -> float:
    """Median ms of the least a tick that acts must do: read a ticket by id, change it, commit.

    The last tickets are used: the minute never touches them.
    """
    async with UnitOfWork(factory) as uow:
        last = (await uow.session.execute(select(func.max(Ticket.id)))).scalar_one()
    costs = []
    for n in range(count):
        started = time.perf_counter()
        async with UnitOfWork(factory) as uow:
            ticket = await uow.tickets.get(last - n % 10)
            assert ticket is not None
            ticket.version += 1
            await uow.commit()
        costs.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(costs), 2)


async def _play_minute(url: str, now: datetime, due: int, ticks: int, step: Step) -> dict[str, Any]:
    engine = _engine(url)
    try:
        factory = session_factory(engine)
        at = [now]
        watch = SlaWatch(factory, now=lambda: at[0])
        idle = []
        for _ in range(20):
            started = time.perf_counter()
            await watch.tick()
            await watch.seconds_to_next()
            idle.append((time.perf_counter() - started) * 1000)
        bare = await _bare_writes(factory)
        costs: list[float] = []
        acted = 0
        played = 0
        end = now + timedelta(minutes=1)
        minute = time.perf_counter()
        while True:
            async with UnitOfWork(factory) as uow:
                nxt = await uow.desk.next_due_at()
            if nxt is None or nxt > end or len(costs) >= ticks:
                break
            at[0] = nxt
            started = time.perf_counter()
            result = await watch.tick()
            await watch.seconds_to_next()
            cost = (time.perf_counter() - started) * 1000
            played += 1
            if played <= WARM_UP:
                continue
            costs.append(cost)
            acted += result.acted
            step("playing the minute", len(costs), min(due, ticks))
        spent = time.perf_counter() - minute
        # Once a second from the next whole second on, for as many seconds as are left.
        seconds: list[float] = []
        second_acted = 0
        at[0] = at[0].replace(microsecond=0) + timedelta(seconds=1)
        while at[0] <= end and len(seconds) < max(3, ticks // 10):
            started = time.perf_counter()
            result = await watch.tick()
            await watch.seconds_to_next()
            seconds.append((time.perf_counter() - started) * 1000)
            second_acted += result.acted
            at[0] += timedelta(seconds=1)
            step("playing once a second", len(seconds), max(3, ticks // 10))
    finally:
        await engine.dispose()
    p50, p99, top = _spread(costs)
    s50, s99, stop = _spread(seconds)
    return {
        "idle_tick_ms": round(statistics.median(idle), 2),
        "ticks": len(costs),
        "tickets_acted": acted,
        "tick_p50_ms": p50,
        "tick_p99_ms": p99,
        "tick_max_ms": top,
        "minute_seconds": round(spent, 2),
        "second_ticks": len(seconds),
        "second_tickets_acted": second_acted,
        "second_tick_p50_ms": s50,
        "second_tick_p99_ms": s99,
        "second_tick_max_ms": stop,
        "bare_write_ms": bare,
    }


def _engine(url: str) -> AsyncEngine:
    async_url, connect_args = normalise_database_url(url)
    return create_engine(async_url, connect_args=connect_args)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://"))
    conn = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _measure(postgres: str | None, total: int, due: int, ticks: int, step: Step) -> Figures:
    now = datetime.now(UTC).replace(microsecond=0)
    name = f"sla_bench_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        if postgres:
            await _admin(postgres, f'CREATE DATABASE "{name}"')
            url = urlunsplit(urlsplit(postgres)._replace(path=f"/{name}"))
        else:
            url = f"sqlite:///{Path(tmp) / 'sla.db'}"
        try:
            computed, inserted = await _fill(url, now, total, due, step)
            played = await _play_minute(url, now, due, ticks, step)
        finally:
            if postgres:
                await _admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return Figures(
        database="postgresql" if postgres else "sqlite",
        open_tickets=total,
        due_in_minute=due,
        compute_seconds=round(computed, 2),
        insert_seconds=round(inserted, 2),
        **played,
    )


def run(
    *,
    tickets: int,
    due: int,
    ticks: int = 150,
    postgres: str | None = None,
    step: Step = lambda *_: None,
) -> list[Figures]:
    """The reference (only the `due` tickets open) and the big dataset, in that order.

    The minute is played for its first `ticks` wake-ups: each is like the others, and the
    whole minute would double the run time without telling more.
    """
    postgres = postgres or None
    return [
        asyncio.run(_measure(postgres, due, due, ticks, step)),
        asyncio.run(_measure(postgres, tickets, due, ticks, step)),
    ]


def postgres_from_environment() -> str | None:
    """The admin URL of the test PostgreSQL server, when one is configured."""
    return os.environ.get(PG_ENV) or None
