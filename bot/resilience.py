"""Riding out outages: capped, jittered back-off and one log line per outage, not per retry.

Every long-running loop of the worker role (claiming, acknowledging, scheduler ticks, leader
election, pollers) keeps one `Outage` and reports each failed and each successful round to
it. The second failure in a row logs a warning (a pooled connection that a restarted server
closed fails once and works on the retry: that is no outage), the first success after it an
info with the outage's length; the retries in between stay quiet. A failure that is not an
outage is logged at once, with its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import structlog
from sqlalchemy.exc import StatementError

from store.outage import is_outage

log = structlog.get_logger(__name__)


class Outage:
    """The state of one loop's dependency: up, or down since a moment, with the next wait."""

    def __init__(self, loop: str, *, base: float = 0.25, cap: float = 10.0) -> None:
        self.loop = loop
        self.base = base
        self.cap = cap
        self.failures = 0
        self.since: float | None = None
        self.reported = False

    @property
    def down(self) -> bool:
        """Whether an outage is going on."""
        return self.since is not None

    def failed(self, error: BaseException) -> float:
        """Record a failed round; the seconds to wait before the next one."""
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            if not is_outage(error):
                log.error("loop.failed", loop=self.loop, error=describe(error), exc_info=error)
                self.reported = True
        if not self.reported and self.failures >= 2:
            log.warning("outage.started", loop=self.loop, error=describe(error))
            self.reported = True
        return self.delay()

    def delay(self) -> float:
        """Full jitter over a doubling window, capped: workers do not retry in step."""
        window = min(self.cap, self.base * 2 ** min(self.failures - 1, 16))
        return random.uniform(window / 2, window)

    def recovered(self) -> None:
        """Record a successful round; ends the outage if there was one."""
        if self.since is not None and self.reported:
            log.info(
                "outage.ended",
                loop=self.loop,
                seconds=round(time.monotonic() - self.since, 1),
                retries=self.failures,
            )
        self.failures = 0
        self.since = None
        self.reported = False


def describe(error: BaseException) -> str:
    """An error in one line for a log, without SQL parameters."""
    # A statement error's text carries the SQL and its parameters (message bodies, phone
    # numbers): only the driver's own message is logged.
    detail = error.orig if isinstance(error, StatementError) and error.orig else error
    return f"{type(error).__name__}: {detail}"[:300]


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(0.0, seconds))
