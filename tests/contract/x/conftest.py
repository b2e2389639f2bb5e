"""The X channel against the fake X API over real HTTP, through tweepy's real `AsyncClient`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from channels.base import IngestOutcome
from channels.conversation import Event
from channels.social import XChannel
from tests.fakes.x_api import WEBHOOK_SECRET, FakeXApi, MemoryCursors

KEYS = {
    "consumer_key": "test-consumer-key",
    "consumer_secret": WEBHOOK_SECRET,
    "access_token": "1111-test-access-token",
    "access_token_secret": "test-access-token-secret",
}


class Inbox:
    """Stands in for the application's inbox: keeps events, deduplicated on their event id."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.outcomes: list[IngestOutcome] = []
        self.fail = False
        self.fail_after: int | None = None

    async def __call__(self, event: Event) -> IngestOutcome:
        if self.fail or (self.fail_after is not None and len(self.outcomes) >= self.fail_after):
            raise OSError("database unavailable")
        if any(e.event_id == event.event_id for e in self.events):
            outcome = IngestOutcome.DUPLICATE
        else:
            self.events.append(event)
            outcome = IngestOutcome.ACCEPTED
        self.outcomes.append(outcome)
        return outcome

    @property
    def ids(self) -> list[str]:
        return [e.event_id for e in self.events]


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


async def started(fake: FakeXApi, cursors: MemoryCursors, **kw: object) -> XChannel:
    options: dict[str, object] = {"poll_interval": 1.0, "dm_poll_interval": 1.0, "page_size": 5}
    options.update(kw)
    channel = XChannel(cursors=cursors, api_url=fake.base_url, **{**KEYS, **options})  # type: ignore[arg-type]
    await channel.start()
    return channel


@pytest.fixture
async def channel(fake: FakeXApi, cursors: MemoryCursors) -> AsyncIterator[XChannel]:
    ch = await started(fake, cursors)
    try:
        yield ch
    finally:
        await ch.aclose()
