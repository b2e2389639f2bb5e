"""T8: PostgreSQL stopped under load, then back; a stop during the outage.

While the database is away the web role answers 503 (never 2xx) for what it cannot store;
the worker does not exit nor crash-loop; once the database is back the backlog drains within
60 s and every acknowledged message gets exactly one ticket and one reply. A worker told to
stop while the database is away exits within 10 s.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from bot.config import Settings
from store.db import create_engine
from store.enums import InboxStatus
from store.models import InboxEvent
from tests.faults.test_redis_outage import outages_logged, seconds_to_stop, wait_for_outage
from tests.faults.traffic import Traffic
from tests.integration.load import wait_done_at_least, wait_until
from tests.integration.procs import environment, free_port, processes, start, wait_healthy
from tests.integration.test_processes import FAST_RECOVERY, assert_exactly_once
from tests.services import PrivatePostgres

OUTAGE_SECONDS = 10.0


@pytest.mark.integration
@pytest.mark.slow
def test_postgres_stopped_under_load(
    postgres_fault_settings: Settings, private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    settings = postgres_fault_settings
    env = environment(settings, **FAST_RECOVERY)
    port = free_port()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        worker = start(["worker"], env, tmp_path / "worker.log")
        running.append(worker)
        wait_healthy(port, web)
        traffic = Traffic(f"http://127.0.0.1:{port}", rate=20)
        traffic.start()
        try:
            wait_done_at_least(settings, 20, timeout=60)
            handled = asyncio.run(_a_handled_row(settings))
            private_postgres.stop("fast")
            before = traffic.snapshot()
            # The worker meets the outage only with work in hand, and at 20 messages/s it is
            # often idle when the database stops: queue a row it handled already, so its
            # loop meets the outage every time and must know the row once the database is back.
            _queue_again(settings, handled)
            time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for an outcome
            during = traffic.snapshot() - before
            private_postgres.start()
            back = time.monotonic()
            accepted_before = traffic.accepted
            deadline = back + 30
            while traffic.accepted < accepted_before + 40 and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            traffic.halt()
        answers = traffic.snapshot()
        assert set(answers) <= {202, 503}, answers
        assert during[503] > 0, during
        assert during[202] <= 2, during  # requests that were committing when it stopped
        accepted = answers[202]
        result = wait_until(settings, accepted, timeout=60)
        drained_in = time.monotonic() - back
        assert worker.popen.poll() is None, f"the worker exited:\n{worker.tail()}"
        assert outages_logged(worker, "worker") == 1, worker.tail()

        # Idle, the worker waits on the queue; its scheduler is the first to meet the outage.
        seen = outages_logged(worker)
        private_postgres.stop("fast")
        wait_for_outage(worker, None, seen + 1)
        assert seconds_to_stop(worker) < 10.0
        assert worker.popen.returncode == 0, worker.tail()
    assert drained_in < 60
    # A request that failed while its commit was in flight may still have been stored.
    assert accepted <= result.inbox["done"] <= accepted + during[503]
    assert_exactly_once(result, result.inbox["done"])


async def _a_handled_row(settings: Settings) -> int:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(
                select(InboxEvent.id).where(InboxEvent.status == InboxStatus.DONE).limit(1)
            )
    finally:
        await engine.dispose()
    assert found is not None
    return int(found)


def _queue_again(settings: Settings, inbox_id: int) -> None:
    """Append an inbox id to the worker's Redis stream, as a recovery sweep would."""
    assert settings.redis_url is not None
    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.xadd(f"{settings.redis_prefix}inbox", {"inbox_id": str(inbox_id)})
    finally:
        client.close()
