"""Running the worker role: consumer, dispatcher and scheduler side by side.

Each part runs under a supervisor: a part that raises is logged and started again after a
capped back-off, so one failing part never ends the process nor leaves the others running
on closed resources. When `stop` is set every part gets `grace` seconds to finish its round
and is then cancelled, so a process told to stop (SIGTERM) ends in time even while the
database or Redis is away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from bot.container import Container
from bot.resident import release_file_pages
from bot.resilience import Outage, sleep_or_stop
from bot.scheduler import Scheduler
from store.queue import InProcessQueue

log = structlog.get_logger(__name__)

STOP_GRACE_SECONDS = 6.0


async def run_worker_role(
    container: Container, stop: asyncio.Event, *, grace: float = STOP_GRACE_SECONDS
) -> None:
    """Process events and send replies until `stop` is set."""
    worker, dispatcher = container.worker, container.dispatcher
    if worker is None or dispatcher is None:
        raise RuntimeError("the container was built without the worker role")
    parts: dict[str, Callable[[asyncio.Event], Awaitable[None]]] = {
        "worker": worker.run,
        "dispatcher": dispatcher.run,
        "scheduler": Scheduler(container).run,
    }
    if isinstance(container.queue, InProcessQueue):
        # The in-process queue starts empty: everything pending in the inbox is ours to do.
        recover = worker.recover

        async def recovered_worker(stop: asyncio.Event) -> None:
            await _until_done("recovery", recover, stop)
            await worker.run(stop)

        parts["worker"] = recovered_worker
    # Start-up is over (imports, the model): the library pages it alone touched go back to
    # the page cache, and what the role runs from now on comes back on its first use.
    release_file_pages()
    tasks = [
        asyncio.create_task(_supervise(name, run, stop), name=f"role-{name}")
        for name, run in parts.items()
    ]
    try:
        await stop.wait()
        _, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            log.warning("worker.stop_forced", part=task.get_name())
            task.cancel()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _supervise(
    name: str, run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run one part until it returns on its own or `stop` is set; restart it when it raises."""
    outage = Outage(name, base=1.0, cap=30.0)
    while not stop.is_set():
        try:
            await run(stop)
            return
        except Exception as e:
            delay = outage.failed(e)
            log.error("worker.part_restarting", part=name, seconds=round(delay, 1))
            await sleep_or_stop(stop, delay)


async def _until_done(what: str, job: Callable[[], Awaitable[object]], stop: asyncio.Event) -> None:
    outage = Outage(what)
    while not stop.is_set():
        try:
            await job()
        except Exception as e:
            await sleep_or_stop(stop, outage.failed(e))
        else:
            outage.recovered()
            return


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
