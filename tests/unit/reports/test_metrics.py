"""`/metrics`: tickets counted once committed, and one set of counters across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot import metrics
from channels.conversation import Address
from handlers.context import HandlerContext
from handlers.incidents import report_incident
from nlu.types import IntentName, Understanding
from store.db import SessionFactory, create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork


@pytest.fixture
async def factory(tmp_path: Path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/metrics.db")
    await upgrade_engine(engine)
    made = session_factory(engine)
    async with UnitOfWork(made) as uow:
        await uow.people.create(name="Alice", email="alice@example.com")
        await uow.commit()
    try:
        yield made
    finally:
        await engine.dispose()


def created(kind: str, channel: str) -> float:
    value = REGISTRY.get_sample_value(
        "switchboard_tickets_created_total", {"kind": kind, "channel": channel}
    )
    return value or 0.0


async def report(factory: SessionFactory, *, commit: bool) -> None:
    async with UnitOfWork(factory) as uow:
        person = await uow.people.by_email("alice@example.com")
        assert person is not None
        ctx = HandlerContext(
            uow=uow,
            person=person,
            address=Address(channel="telegram", conversation="42", user="42"),
            now=datetime.now(UTC),
            text="the printer is broken",
            params={"deflection_declined": "1"},
        )
        nlu = Understanding(text=ctx.text, intent=IntentName.REPORT_INCIDENT, confidence=0.95)
        await report_incident(nlu, ctx)
        await uow.flush()
        if commit:
            await uow.commit()


async def test_a_ticket_is_counted_when_its_transaction_commits(factory: SessionFactory) -> None:
    before = created("incident", "telegram")
    await report(factory, commit=False)
    assert created("incident", "telegram") == before
    await report(factory, commit=True)
    assert created("incident", "telegram") == before + 1


_INCREMENT = """
from bot import metrics
metrics.TICKETS_CREATED.labels("request", "slack").inc()
"""
_SCRAPE = """
import sys
from bot import metrics
body, _ = metrics.exposition()
sys.stdout.write(body.decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path: Path) -> None:
    env = {**os.environ, metrics.MULTIPROCESS_ENV: str(tmp_path), "PYTHONPATH": os.getcwd()}
    for _ in range(3):
        subprocess.run([sys.executable, "-c", _INCREMENT], env=env, check=True, timeout=60)
    scrape = subprocess.run(
        [sys.executable, "-c", _SCRAPE],
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    line = 'switchboard_tickets_created_total{channel="slack",kind="request"} 3.0'
    assert line in scrape.stdout
