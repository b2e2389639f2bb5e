"""Acknowledgements first: in a process that both answers webhooks and works, the web goes first.

The embedded `serve` runs the web routes, the worker and the dispatcher on one event loop and
one SQLite writer. A platform retries a webhook that is not answered within seconds, and
Slack shows the sender an error after three, so an acknowledgement must not queue behind
messages the worker could just as well handle a moment later: they are stored already.
Before each of its transactions, the worker waits while requests that write are in flight,
for a bounded time, so it still makes progress under a steady stream of requests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the worker role imports this module too, and no web framework
    from starlette.types import ASGIApp, Receive, Scope, Send

# Long enough for the requests of one burst to be stored and answered; short enough that
# the worker still handles a transaction's events every so often under a steady stream.
MOST_WAIT_SECONDS = 0.05

# Requests this recent mean a stream is going on: the worker keeps its transactions short.
RECENT_SECONDS = 0.5

# Webhooks and posted forms write; reads go to their own SQLite connections, and streams
# (the console's live news) stay open for minutes, so neither holds the worker back.
WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class WebFirst:
    """Counts the writing requests in flight; `turn()` waits for them to be answered."""

    def __init__(self, most_wait: float = MOST_WAIT_SECONDS) -> None:
        self.most_wait = most_wait
        self.in_flight = 0
        self.last_entered = float("-inf")
        # Futures, not an `asyncio.Event`: each is made on the loop of whoever waits, so
        # one gate serves every loop the process (or a test run) opens.
        self._waiting: list[asyncio.Future[None]] = []

    def entered(self) -> None:
        """A writing request started."""
        self.in_flight += 1
        self.last_entered = time.monotonic()

    def left(self) -> None:
        """A writing request was answered (or failed); wake the waiters once none is left."""
        self.in_flight -= 1
        if self.in_flight == 0:
            waiting, self._waiting = self._waiting, []
            for future in waiting:
                if not future.done():
                    future.set_result(None)

    async def turn(self) -> bool:
        """Wait until no writing request is in flight, or `most_wait` seconds at most.

        Returns:
            Whether writing requests came in lately, so the next transaction should be short.
        """
        if self.in_flight == 0:
            return self.busy()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        try:
            await asyncio.wait_for(future, self.most_wait)
        except TimeoutError:
            pass
        finally:
            if future in self._waiting:
                self._waiting.remove(future)
        return True

    def busy(self) -> bool:
        """Whether a writing request is in flight or came in within `RECENT_SECONDS`."""
        return self.in_flight > 0 or time.monotonic() - self.last_entered < RECENT_SECONDS


class CountWrites:
    """ASGI middleware that tells a `WebFirst` gate when writing requests start and end."""

    def __init__(self, app: ASGIApp, *, gate: WebFirst) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request, counted while it is in flight when it writes."""
        if scope["type"] != "http" or scope.get("method") not in WRITING_METHODS:
            await self.app(scope, receive, send)
            return
        self.gate.entered()
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.left()


GiveWay = Callable[[], Awaitable[bool]]
"""Waits for the worker's turn; True when its next transaction should be short."""


async def no_wait() -> bool:
    """The turn of a process with no web routes of its own: nothing to wait for."""
    return False
