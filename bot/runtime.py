"""Running the worker role: consumer, dispatcher and scheduler side by side."""

from __future__ import annotations

import asyncio

import structlog

from bot.container import Container
from bot.scheduler import Scheduler
from store.queue import InProcessQueue

log = structlog.get_logger(__name__)


async def run_worker_role(container: Container, stop: asyncio.Event) -> None:
    """Process events and send replies until `stop` is set."""
    worker, dispatcher = container.worker, container.dispatcher
    if worker is None or dispatcher is None:
        raise RuntimeError("the container was built without the worker role")
    if isinstance(container.queue, InProcessQueue):
        # The in-process queue starts empty: everything pending in the inbox is ours to do.
        await worker.recover()
    await asyncio.gather(
        worker.run(stop),
        dispatcher.run(stop),
        Scheduler(container).run(stop),
    )


class Background:
    """The worker role as a background task of another process (embedded serve, chat)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Background:
        self.task = asyncio.create_task(run_worker_role(self.container, self.stop), name="worker")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, timeout=10)
            except TimeoutError:
                self.task.cancel()
            except Exception as e:
                log.error("worker.crashed", error=repr(e))
