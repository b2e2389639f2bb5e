"""Acks first: the gate the worker waits at while writing requests are in flight."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI, Request

from bot.priority import CountWrites, WebFirst


async def test_a_turn_is_free_while_no_writing_request_is_in_flight() -> None:
    gate = WebFirst(most_wait=30)
    assert await asyncio.wait_for(gate.turn(), 1) is False  # nothing came in: long runs


async def test_a_turn_after_a_recent_request_asks_for_a_short_transaction() -> None:
    gate = WebFirst(most_wait=30)
    gate.entered()
    gate.left()
    assert await asyncio.wait_for(gate.turn(), 1) is True


async def test_a_turn_waits_until_the_last_writing_request_is_answered() -> None:
    gate = WebFirst(most_wait=30)
    gate.entered()
    gate.entered()
    waiting = asyncio.create_task(gate.turn())
    await asyncio.sleep(0)
    gate.left()
    await asyncio.sleep(0)
    assert not waiting.done()  # one is still in flight
    gate.left()
    await asyncio.wait_for(waiting, 1)


async def test_a_turn_is_bounded_so_the_worker_still_progresses_under_a_steady_stream() -> None:
    gate = WebFirst(most_wait=0.01)
    gate.entered()  # never answered
    await asyncio.wait_for(gate.turn(), 5)
    assert gate.in_flight == 1


async def test_writing_requests_are_counted_while_in_flight_and_reads_are_not() -> None:
    gate = WebFirst()
    seen: list[int] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> dict[str, int]:
        seen.append(gate.in_flight)
        return {}

    @app.get("/read")
    async def read() -> dict[str, int]:
        seen.append(gate.in_flight)
        return {}

    @app.post("/fails")
    async def fails() -> dict[str, int]:
        raise RuntimeError("boom")

    app.add_middleware(CountWrites, gate=gate)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.post("/hook", json={})
        await client.get("/read")
        assert (await client.post("/fails")).status_code == 500
    assert seen == [1, 0]
    assert gate.in_flight == 0  # a request that failed is not counted forever
