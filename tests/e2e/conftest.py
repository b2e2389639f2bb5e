"""The end-to-end harness: fake platform APIs over real HTTP, and waiting for a signal.

Each fake is a real server on `127.0.0.1:0` that the real SDK reaches through its
`*_API_URL`; a test asks for the fakes it needs by name. The waits poll for a positive
signal (never a fixed sleep) and fail with what they were waiting for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.fakes.twilio_api import FakeTwilioApi
from tests.fakes.x_api import FakeXApi

T = TypeVar("T")


@pytest.fixture
def slack_fake() -> Iterator[FakeSlackApi]:
    with FakeSlackApi() as api:
        yield api


@pytest.fixture
def telegram_fake() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


@pytest.fixture
def twilio_fake() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def x_fake() -> Iterator[FakeXApi]:
    with FakeXApi() as api:
        yield api


def eventually(found: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll `found` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := found():
            return got
        time.sleep(0.02)
    raise AssertionError(f"never saw {what}")


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait for a positive signal (a sync or async predicate)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if asyncio.iscoroutine(got):
            got = await got
        if got:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")
