"""The durable outbox: replies written with the change that caused them, sent once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import OutboxStatus
from store.models import OutboxMessage
from store.types import utcnow


class OutboxRepository:
    """Rows of the outbox table inside one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self,
        *,
        platform: str,
        conversation_key: str,
        address: dict[str, Any],
        reply: dict[str, Any],
        inbox_id: int | None = None,
        ticket_ref: str | None = None,
    ) -> OutboxMessage:
        row = OutboxMessage(
            platform=platform,
            conversation_key=conversation_key,
            address=address,
            reply=reply,
            inbox_id=inbox_id,
            ticket_ref=ticket_ref,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=utcnow(),
        )
        self.session.add(row)
        return row

    async def claim(
        self,
        platforms: Sequence[str],
        *,
        ids: Sequence[int] | None = None,
        conversations: Sequence[str] | None = None,
        limit: int = 100,
        lease_seconds: float = 60.0,
    ) -> list[OutboxMessage]:
        """Lease due rows for sending: pending ones whose time has come, or leases that lapsed.

        On PostgreSQL `SKIP LOCKED` lets several dispatchers claim side by side; SQLite
        serialises writers anyway.
        """
        now = utcnow()
        due = or_(
            and_(
                OutboxMessage.status == OutboxStatus.PENDING,
                OutboxMessage.next_attempt_at <= now,
            ),
            and_(
                OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.lease_until < now,
            ),
        )
        pick = select(OutboxMessage.id).where(OutboxMessage.platform.in_(platforms), due)
        if ids is not None:
            pick = pick.where(OutboxMessage.id.in_(ids))
        if conversations is not None:
            pick = pick.where(OutboxMessage.conversation_key.in_(conversations))
        pick = pick.order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)
        chosen = list(await self.session.scalars(pick))
        if not chosen:
            return []
        result = await self.session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chosen))
            .values(
                status=OutboxStatus.SENDING,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=OutboxMessage.attempts + 1,
            )
            .returning(OutboxMessage),
            execution_options={"synchronize_session": False},
        )
        return sorted(result, key=lambda r: r.id)

    async def mark_sent(self, outbox_id: int, external_id: str | None) -> None:
        await self._set(
            outbox_id,
            status=OutboxStatus.SENT,
            sent_at=utcnow(),
            external_id=external_id,
            lease_until=None,
            error=None,
        )

    async def mark_sent_many(self, sent: Sequence[tuple[int, str | None]]) -> None:
        """Record several successful sends in one statement."""
        table = OutboxMessage.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("row_id"), table.c.status == OutboxStatus.SENDING)
            .values(
                status=OutboxStatus.SENT,
                sent_at=bindparam("sent"),
                external_id=bindparam("ext"),
                lease_until=None,
                error=None,
            )
        )
        now = utcnow()
        await self.session.execute(
            stmt, [{"row_id": i, "ext": ext, "sent": now} for i, ext in sent]
        )

    async def forget_text(self, ids: Sequence[int]) -> None:
        """Drop the content of sent replies that held a secret; the row stays for the record."""
        if not ids:
            return
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(reply={"text": "[sent; not kept]", "sensitive": True}),
            execution_options={"synchronize_session": False},
        )

    async def mark_retry(
        self, outbox_id: int, *, at: datetime, error: str, refund: bool = False
    ) -> None:
        """Send again at `at`; `refund` gives back the attempt (we held back, nothing was sent)."""
        values: dict[str, Any] = {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": at,
            "lease_until": None,
            "error": error[:2000],
        }
        if refund:
            values["attempts"] = OutboxMessage.attempts - 1
        await self._set(outbox_id, **values)

    async def mark_dead(self, outbox_id: int, error: str) -> None:
        await self._set(outbox_id, status=OutboxStatus.DEAD, lease_until=None, error=error[:2000])

    async def mark_unknown(self, outbox_id: int, error: str) -> None:
        await self._set(
            outbox_id, status=OutboxStatus.UNKNOWN, lease_until=None, error=error[:2000]
        )

    async def _set(self, outbox_id: int, **values: Any) -> None:
        await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == outbox_id, OutboxMessage.status == OutboxStatus.SENDING)
            .values(**values),
            execution_options={"synchronize_session": False},
        )

    async def record_delivery_status(self, platform: str, external_id: str, status: str) -> int:
        """Store the platform's delivery report for a sent reply; the rows updated."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.platform == platform, OutboxMessage.external_id == external_id)
            .values(delivery_status=status[:32], delivery_updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def history(
        self, platform: str, conversation_key: str, *, after_id: int = 0, limit: int = 100
    ) -> list[OutboxMessage]:
        """Replies for one conversation after a given id (web chat polls this)."""
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.platform == platform,
                OutboxMessage.conversation_key == conversation_key,
                OutboxMessage.id > after_id,
                OutboxMessage.status != OutboxStatus.DEAD,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def last_external_id(
        self, platform: str, conversation_key: str, ticket_ref: str
    ) -> str | None:
        """The platform id of the last message sent about a ticket in a conversation."""
        stmt = (
            select(OutboxMessage.external_id)
            .where(
                OutboxMessage.platform == platform,
                OutboxMessage.conversation_key == conversation_key,
                OutboxMessage.ticket_ref == ticket_ref,
                OutboxMessage.status == OutboxStatus.SENT,
                OutboxMessage.external_id.is_not(None),
            )
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def for_inbox(self, inbox_id: int) -> list[OutboxMessage]:
        stmt = select(OutboxMessage).where(OutboxMessage.inbox_id == inbox_id)
        return list(await self.session.scalars(stmt.order_by(OutboxMessage.id)))

    async def counts(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {str(status): int(n) for status, n in rows.all()}
