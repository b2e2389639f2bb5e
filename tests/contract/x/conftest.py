"""The X channel against the fake X API over real HTTP, through tweepy's real `AsyncClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from channels.x.channel import XChannel
from tests.fakes.x_api import FakeXApi, Inbox, MemoryCursors, started


@pytest.fixture(scope="module")
def x_server() -> Iterator[FakeXApi]:
    with FakeXApi() as api:
        yield api  # type: ignore[misc]


@pytest.fixture
def fake(x_server: FakeXApi, no_network: None) -> FakeXApi:
    x_server.reset()
    return x_server


@pytest.fixture
def cursors() -> MemoryCursors:
    return MemoryCursors()


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def channel(fake: FakeXApi, cursors: MemoryCursors) -> AsyncIterator[XChannel]:
    ch = await started(fake, cursors)
    try:
        yield ch
    finally:
        await ch.aclose()
