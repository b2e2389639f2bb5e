"""The `getUpdates` side: a transport that sets unreadable updates aside, and stoppable waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from channels.telegram.parse import MalformedUpdate, to_update, with_is_bot


class VettingRequest(HTTPXRequest):
    """The `getUpdates` transport: an update PTB cannot read is set aside, not fatal.

    PTB parses a whole batch at once, so one bad update would fail every poll forever;
    here it is replaced by an empty update with the same id, which is then skipped.
    """

    def __init__(self, quarantine: Callable[[Any, str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._quarantine = quarantine

    # PTB declares it static but always calls it on the instance, and documents overriding it.
    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """The update list, with updates that cannot be read set aside."""
        data = super().parse_json_payload(payload)
        result = data.get("result")
        if data.get("ok") is True and isinstance(result, list):
            data["result"] = [self._vet(item) for item in result]
        return data

    def _vet(self, item: Any) -> Any:
        raw = item if isinstance(item, dict) else {}
        try:
            to_update(raw)
        except MalformedUpdate as e:
            update_id = raw.get("update_id")
            self._quarantine(update_id, str(e))
            return {"update_id": update_id if isinstance(update_id, int) else 0}
        return with_is_bot(raw)


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def unless_stopped(stop: asyncio.Event, call: Any) -> Any:
    """Await `call` unless `stop` is set first (then cancel it and return None)."""
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TelegramError):
        await task
    return None
