"""The durable inbox: insert-or-ignore on (platform, event_id), then track processing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from store.direct import Direct
from store.enums import InboxStatus
from store.hotpath import insert_of
from store.models import InboxEvent
from store.types import utcnow


@dataclass(frozen=True, slots=True)
class Attempt:
    """An inbox row whose delivery was just counted: its id, attempts so far and payload."""

    id: int
    deliveries: int
    payload: dict[str, Any]


def _insert(dialect: str) -> Any:
    return insert_of(dialect)


async def insert_events(
    on: AsyncSession | AsyncConnection, rows: Sequence[dict[str, Any]]
) -> list[int | None]:
    """`InboxRepository.insert_many` on a session or, without the ORM, on a connection.

    The ack path writes its group commits on a connection: one Core statement needs none
    of a session's bookkeeping.
    """
    if not rows:
        return []
    bind = on.get_bind() if isinstance(on, AsyncSession) else on
    table = InboxEvent.__table__
    now = utcnow()
    values = [
        {
            "platform": row["platform"],
            "event_id": row["event_id"],
            "conversation_key": row.get("conversation_key", ""),
            "payload": row["payload"],
            "status": InboxStatus.PENDING.value,
            "deliveries": 0,
            "received_at": now,
        }
        for row in rows
    ]
    # One cached statement for the whole batch, sent as a multi-row INSERT; the unique
    # key drops repeats, also within the batch.
    stmt = (
        _insert(bind.dialect.name)(table)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        .returning(table.c.id, table.c.platform, table.c.event_id)
    )
    new = {(p, e): i for i, p, e in (await on.execute(stmt, values)).all()}
    ids: list[int | None] = []
    for row in rows:
        key = (row["platform"], row["event_id"])
        ids.append(new.pop(key, None))
    return ids


class InboxRepository:
    """Rows of the inbox table inside one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> list[int | None]:
        """Insert events, ignoring those already present; the new ids (None for a duplicate).

        The unique constraint decides: two deliveries racing each other still make one row.
        """
        return await insert_events(self.session, rows)

    async def insert(
        self, platform: str, event_id: str, payload: dict[str, Any], conversation_key: str = ""
    ) -> int | None:
        """Insert one event; its id, or None when (platform, event_id) is already stored."""
        rows = [
            {
                "platform": platform,
                "event_id": event_id,
                "payload": payload,
                "conversation_key": conversation_key,
            }
        ]
        return (await self.insert_many(rows))[0]

    async def get(self, inbox_id: int) -> InboxEvent | None:
        """The inbox row with this id, or None."""
        return await self.session.get(InboxEvent, inbox_id)

    async def find(self, platform: str, event_id: str) -> InboxEvent | None:
        """The inbox row a platform's event became, or None."""
        stmt = select(InboxEvent).where(
            InboxEvent.platform == platform, InboxEvent.event_id == event_id
        )
        return (await self.session.scalars(stmt)).first()

    async def start_attempts(self, ids: Sequence[int]) -> dict[int, Attempt]:
        """Count one more processing attempt on each pending row among `ids`.

        Rows already done or dead are left out, so a redelivered queue entry is recognised.
        """
        if not ids:
            return {}
        result = await self.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id.in_(ids), InboxEvent.status == InboxStatus.PENDING)
            .values(deliveries=InboxEvent.deliveries + 1)
            .returning(InboxEvent.id, InboxEvent.deliveries, InboxEvent.payload),
            execution_options={"synchronize_session": False},
        )
        return {r.id: Attempt(r.id, r.deliveries, r.payload) for r in result}

    async def record_error(self, inbox_id: int, error: str) -> None:
        """Keep the error of a failed attempt on the row (it stays pending)."""
        await self.session.execute(
            update(InboxEvent).where(InboxEvent.id == inbox_id).values(error=error[:2000])
        )

    async def finish(self, inbox_id: int, *, intent: str | None = None) -> bool:
        """Mark a pending row done; False when another worker finished it first."""
        result = await self.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == inbox_id, InboxEvent.status == InboxStatus.PENDING)
            .values(status=InboxStatus.DONE, intent=intent, processed_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        return bool(getattr(result, "rowcount", 0))

    async def finish_many(self, intents: dict[int, str]) -> int:
        """Mark pending rows done, each with its intent; how many were still pending."""
        if not intents:
            return 0
        params: dict[str, Any] = {"ids": list(intents), "at": utcnow()}
        for n, (inbox_id, intent) in enumerate(intents.items()):
            params[f"id{n}"], params[f"intent{n}"] = inbox_id, intent
        return len(await _finishing(len(intents)).rows(self.session, params))

    async def mark_dead(self, inbox_id: int, error: str) -> None:
        """Give up on the row: dead, with the reason kept."""
        await self.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == inbox_id, InboxEvent.status == InboxStatus.PENDING)
            .values(status=InboxStatus.DEAD, error=error[:2000], processed_at=utcnow())
        )

    async def pending_ids(
        self, *, older_than: datetime | None = None, limit: int = 1000
    ) -> list[int]:
        """Ids still waiting, oldest first (recovery after a restart or a lost queue entry)."""
        stmt = select(InboxEvent.id).where(InboxEvent.status == InboxStatus.PENDING)
        if older_than is not None:
            stmt = stmt.where(InboxEvent.received_at <= older_than)
        stmt = stmt.order_by(InboxEvent.id).limit(limit)
        return list(await self.session.scalars(stmt))

    async def counts(self) -> dict[str, int]:
        """How many rows are in each status."""
        rows = await self.session.execute(
            select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
        )
        return {str(status): int(n) for status, n in rows.all()}

    @staticmethod
    def stale_before(seconds: float) -> datetime:
        """The time `seconds` ago (the recovery sweep requeues pending rows older than it)."""
        return utcnow() - timedelta(seconds=seconds)


_INBOX = cast(Table, InboxEvent.__table__)
_FINISHING: dict[int, Direct] = {}


def _finishing(count: int) -> Direct:
    """Marking `count` pending rows done, each with its intent: the ids of those it marked.

    The rows' ids and intents are parameters (`id0`, `intent0`, ...), so a batch's
    statement is compiled once per size and sent straight to the driver, rather than
    built, keyed and run through the session for every batch.
    """
    found = _FINISHING.get(count)
    if found is None:
        t = _INBOX
        intent = case(
            *(
                (t.c.id == bindparam(f"id{n}"), bindparam(f"intent{n}", type_=t.c.intent.type))
                for n in range(count)
            ),
            else_=t.c.intent,
        )
        found = _FINISHING[count] = Direct(
            update(t)
            .where(
                t.c.id.in_(bindparam("ids", expanding=True)),
                t.c.status == InboxStatus.PENDING,
            )
            .values(
                # Named apart from the column: a `Direct` statement takes a bound value
                # named for a column from the caller, not from the statement.
                status=bindparam("done", InboxStatus.DONE, type_=t.c.status.type),
                intent=intent,
                processed_at=bindparam("at", type_=t.c.processed_at.type),
            )
            .returning(t.c.id)
        )
    return found
