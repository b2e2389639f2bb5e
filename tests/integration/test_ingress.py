"""The ack path on PostgreSQL: one refused row fails only its own request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.ingress import Ingress
from channels.base import IngestOutcome, PayloadError
from channels.conversation import Address, Event, Identity, Message
from store.db import create_engine, session_factory
from store.queue import InProcessQueue
from store.state import LocalState
from store.uow import UnitOfWork
from tests.conftest import make_settings, prepare_database


def message(n: int, text: str) -> Message:
    return Message(
        event_id=f"ev-{n}",
        address=Address(channel="webchat", conversation=f"visitor-{n}", user=f"visitor-{n}"),
        sender=Identity(platform="webchat", external_id=f"visitor-{n}"),
        text=text,
    )


@pytest.mark.integration
async def test_a_row_the_database_refuses_fails_only_its_own_request(
    pg_url: str, model_root: Path
) -> None:
    settings = make_settings(pg_url, model_root)
    await prepare_database(settings, demo=False)
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    queue = InProcessQueue()
    ingress = Ingress(session_factory(engine), queue, LocalState())
    batches: list[int] = []
    insert = ingress._insert

    async def counted(events: list[Event]) -> list[int | None]:
        batches.append(len(events))
        return await insert(events)

    ingress._insert = counted  # type: ignore[method-assign]
    await ingress.start()
    try:
        # PostgreSQL's jsonb cannot hold U+0000: that one row is refused.
        texts = ["printer jammed", "vpn down", "bad \x00 byte", "mail slow", "wifi flaky"]
        results = await asyncio.gather(
            *(ingress(message(n, t)) for n, t in enumerate(texts)), return_exceptions=True
        )
        async with UnitOfWork(session_factory(engine)) as uow:
            stored = {e for e in texts if await uow.inbox.find("webchat", f"ev-{texts.index(e)}")}
    finally:
        await ingress.aclose()
        await engine.dispose()
    assert batches[0] == len(texts), "the requests did not share a group commit"
    assert isinstance(results[2], PayloadError)
    assert [r for i, r in enumerate(results) if i != 2] == [IngestOutcome.ACCEPTED] * 4
    assert stored == set(texts) - {"bad \x00 byte"}
    assert await queue.depth() == 4
