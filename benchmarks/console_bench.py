"""`switchboard bench console`: the agents' queue page with many tickets in the database.

A throw-away SQLite database (or PostgreSQL with `--postgres`) gets `tickets` tickets, a
share of them still open, spread over groups, services, channels and priorities, with
service-level due times. An agent signs in with a one-time link as a browser would, then
the queue page (`GET /console`, the whole page: session check, queries, template) is asked
for `requests` times, one at a time, in the web process's own event loop. The same run
measures `/healthz/live` (no database, no template) as the reference, so the figure can be
read against what the machine does at all.
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

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert

from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import Priority, Role, Status, TicketKind
from store.migrate import upgrade_engine
from store.models import Group, Person, PersonRole, Service, Ticket
from store.uow import UnitOfWork

PG_ENV = "SWITCHBOARD_TEST_DATABASE_URL"
CHANNELS = ("slack", "telegram", "sms", "whatsapp", "webchat")
CLOSED = (Status.RESOLVED, Status.CLOSED)
OPEN = (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD)
Step = Callable[[str, int, int], None]


@dataclass
class Figures:
    """One run's measurements, in milliseconds."""

    database: str
    tickets: int
    open_tickets: int
    insert_seconds: float
    requests: int
    page_p50_ms: float
    page_p95_ms: float
    page_max_ms: float
    reference_p50_ms: float
    reference_p95_ms: float
    page_bytes: int

    def as_dict(self) -> dict[str, Any]:
        """The figures by field name, for `--json`."""
        return asdict(self)


def postgres_from_environment() -> str | None:
    """The admin URL of the test PostgreSQL server, when one is configured."""
    return os.environ.get(PG_ENV) or None


async def _seed(url: str, tickets: int, open_share: float, step: Step) -> tuple[int, float]:
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
        factory = session_factory(engine)
        async with UnitOfWork(factory) as uow:
            s = uow.session
            groups = [Group(name=f"group-{i}") for i in range(8)]
            s.add_all(groups)
            requester = Person(name="Requester", email="requester@example.com")
            agents = [Person(name=f"Agent {i}", email=f"agent{i}@example.com") for i in range(10)]
            s.add_all([requester, *agents])
            await s.flush()
            services = [
                Service(name=f"service-{i}", owner_group_id=groups[i % len(groups)].id)
                for i in range(20)
            ]
            s.add_all(services)
            s.add_all(PersonRole(person_id=a.id, role=Role.AGENT) for a in agents)
            await s.flush()
            ids = (
                requester.id,
                [a.id for a in agents],
                [g.id for g in groups],
                [x.id for x in services],
            )
            await uow.commit()
        requester_id, agent_ids, group_ids, service_ids = ids
        now = datetime.now(UTC)
        every = max(1, round(1 / open_share)) if open_share > 0 else tickets + 1
        started = time.perf_counter()
        chunk = 5000
        opened = 0
        for base in range(0, tickets, chunk):
            rows = []
            for n in range(base, min(tickets, base + chunk)):
                is_open = n % every == 0
                opened += is_open
                created = now - timedelta(minutes=(n * 7) % (60 * 24 * 90))
                rows.append(
                    {
                        "kind": TicketKind.INCIDENT if n % 4 else TicketKind.REQUEST,
                        "number": n + 1,
                        "ref": f"{'INC' if n % 4 else 'REQ'}-{n + 1}",
                        "title": f"Ticket {n + 1}: something needs attention",
                        "description": "",
                        "status": OPEN[n % len(OPEN)] if is_open else CLOSED[n % 2],
                        "priority": list(Priority)[n % 5],
                        "requester_id": requester_id,
                        "assignee_id": None if n % 3 == 0 else agent_ids[n % len(agent_ids)],
                        "group_id": group_ids[n % len(group_ids)],
                        "service_id": service_ids[n % len(service_ids)],
                        "origin": {
                            "channel": CHANNELS[n % len(CHANNELS)],
                            "conversation": f"c{n % 500}",
                            "user": f"u{n % 500}",
                        },
                        "created_at": created,
                        "updated_at": created,
                        "resolved_at": None if is_open else created + timedelta(hours=3),
                        "sla_name": "standard",
                        "response_due_at": created + timedelta(hours=4),
                        "resolve_due_at": created + timedelta(days=3),
                        "version": 1,
                        "escalation_level": 0,
                        "sla_paused_seconds": 0,
                    }
                )
            async with engine.begin() as conn:
                await conn.execute(insert(Ticket), rows)
            step("inserting tickets", min(tickets, base + chunk), tickets)
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return opened, seconds


async def _measure(
    settings: Settings, requests: int, step: Step
) -> tuple[list[float], list[float], int]:
    from bot.app import create_app
    from bot.container import Role as ProcessRole

    app = create_app(settings, roles=frozenset({ProcessRole.WEB}))
    async with LifespanManager(app):
        async with app.state.container.uow() as uow:
            agent = await uow.people.by_email("agent1@example.com")
            assert agent is not None
            _, token = await uow.signins.issue(agent)
            await uow.commit()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            signed = await client.get(f"/signin/{token}", params={"next": "/console"})
            if signed.status_code not in (303, 302):
                raise RuntimeError(f"sign-in answered {signed.status_code}")
            headers = {"accept": "text/html"}
            size = 0
            for _ in range(5):
                await client.get("/console", headers=headers)
                await client.get("/healthz/live")
            page: list[float] = []
            reference: list[float] = []
            for i in range(requests):
                t0 = time.perf_counter()
                r = await client.get("/console", headers=headers)
                page.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"/console answered {r.status_code}")
                size = len(r.content)
                t0 = time.perf_counter()
                await client.get("/healthz/live")
                reference.append((time.perf_counter() - t0) * 1000)
                step("requests", i + 1, requests)
    return page, reference, size


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _scratch_postgres(server: str) -> tuple[str, str]:
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(server)
    return urlunsplit(parts._replace(path=f"/{name}")), name


async def _admin(server: str, sql: str) -> None:
    import asyncpg

    parts = urlsplit(server)
    conn = await asyncpg.connect(urlunsplit(parts._replace(scheme="postgresql")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run(
    *,
    tickets: int,
    open_share: float,
    requests: int,
    postgres: str | None,
    step: Step,
) -> Figures:
    """Seed, sign in, measure; the scratch database is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="sb-console-") as tmp:
        if postgres:
            url, name = _scratch_postgres(postgres)
            asyncio.run(_admin(postgres, f'CREATE DATABASE "{name}"'))
            database = "postgresql"
        else:
            url, name = f"sqlite:///{tmp}/console.db", ""
            database = "sqlite"
        try:
            settings = Settings(
                _env_file=None,
                environment="test",
                database_url=url,
                nlu_model_path=Path(tmp) / "model",
                log_level="WARNING",
                secret_key="bench-secret-key-0123456789abcdef",
            )
            async_url = settings.async_database_url
            opened, seconds = asyncio.run(_seed(async_url, tickets, open_share, step))
            page, reference, size = asyncio.run(_measure(settings, requests, step))
        finally:
            if postgres:
                asyncio.run(_admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return Figures(
        database=database,
        tickets=tickets,
        open_tickets=opened,
        insert_seconds=round(seconds, 2),
        requests=requests,
        page_p50_ms=round(statistics.median(page), 2),
        page_p95_ms=round(_pct(page, 0.95), 2),
        page_max_ms=round(max(page), 2),
        reference_p50_ms=round(statistics.median(reference), 2),
        reference_p95_ms=round(_pct(reference, 0.95), 2),
        page_bytes=size,
    )
