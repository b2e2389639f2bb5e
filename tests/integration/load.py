"""Driving real processes over HTTP and reading the outcome from the database."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import InboxStatus, OutboxStatus, TicketKind
from store.models import InboxEvent, OutboxMessage, Ticket

TEXT = "The VPN is down for the whole team, nobody can connect, please fix it urgently!"


def send_messages(base_url: str, count: int, text: str = TEXT) -> list[str]:
    """One message from each of `count` new web chat visitors; their tokens."""
    tokens: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for i in range(count):
            token = client.post("/webchat/session").json()["token"]
            res = client.post(
                "/webchat/messages",
                json={"id": uuid.uuid4().hex, "text": f"{text} ({i})"},
                headers={"X-Webchat-Token": token},
            )
            assert res.status_code == 202, res.text
            tokens.append(token)
    return tokens


@dataclass(frozen=True)
class Outcome:
    inbox: dict[str, int]
    outbox: dict[str, int]
    replies_per_event: dict[int, int]
    incidents: int
    reported: int  # distinct reports among the incidents: a duplicate ticket repeats one

    @property
    def pending(self) -> int:
        return self.inbox.get(InboxStatus.PENDING.value, 0) + sum(
            self.outbox.get(s.value, 0) for s in (OutboxStatus.PENDING, OutboxStatus.SENDING)
        )


async def _outcome(settings: Settings) -> Outcome:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with session_factory(engine)() as s:
            inbox = {
                str(k): int(v)
                for k, v in (
                    await s.execute(
                        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
                    )
                ).all()
            }
            outbox = {
                str(k): int(v)
                for k, v in (
                    await s.execute(
                        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                    )
                ).all()
            }
            per_event = {
                int(k): int(v)
                for k, v in (
                    await s.execute(
                        select(OutboxMessage.inbox_id, func.count()).group_by(
                            OutboxMessage.inbox_id
                        )
                    )
                ).all()
                if k is not None
            }
            incidents = (
                await s.execute(
                    select(func.count())
                    .select_from(Ticket)
                    .where(Ticket.kind == TicketKind.INCIDENT)
                )
            ).scalar_one()
            reported = (
                await s.execute(
                    select(func.count(func.distinct(Ticket.description))).where(
                        Ticket.kind == TicketKind.INCIDENT
                    )
                )
            ).scalar_one()
            return Outcome(inbox, outbox, per_event, int(incidents), int(reported))
    finally:
        await engine.dispose()


def outcome(settings: Settings) -> Outcome:
    return asyncio.run(_outcome(settings))


def wait_until(settings: Settings, done: int, timeout: float) -> Outcome:
    """Poll until `done` inbox rows are handled and no reply is waiting to be sent."""
    deadline = time.monotonic() + timeout
    last = outcome(settings)
    while time.monotonic() < deadline:
        last = outcome(settings)
        if last.inbox.get(InboxStatus.DONE.value, 0) >= done and last.pending == 0:
            return last
        time.sleep(0.25)
    raise AssertionError(f"not finished after {timeout}s: {last}")


def wait_done_at_least(settings: Settings, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if outcome(settings).inbox.get(InboxStatus.DONE.value, 0) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} events handled after {timeout}s")
