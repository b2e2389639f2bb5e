"""The durable outbox: replies written with the change that caused them, sent once.

Over 400 lines: a row's whole life (add, claim, send, settle) is one state machine, kept
in one place so every status change checks the same claim token.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.direct import Direct
from store.enums import OutboxStatus
from store.hotpath import insert_many, insert_of, reads, returning_ids, unsaved
from store.models import OutboxMessage
from store.types import utcnow

_INSERT_MANY = returning_ids(cast(Table, OutboxMessage.__table__))


@dataclass(frozen=True, slots=True)
class ClaimedReply:
    """An outbox row as a claim leased it: what a dispatcher needs to send and settle it.

    Plain values rather than ORM objects: a claim is settled by Core statements keyed on
    `id` and `attempts` (the claim token), so nothing needs the session's identity map.
    """

    id: int
    platform: str
    conversation_key: str
    address: dict[str, Any]
    reply: dict[str, Any]
    attempts: int
    status: OutboxStatus
    ticket_ref: str | None = None


class OutboxRepository:
    """Rows of the outbox table inside one unit of work.

    A row's life: `pending` (due at `next_attempt_at`; a live `lease_until` means a
    dispatcher has claimed it but not yet called the platform), `sending` (the platform call
    may be under way: committed before the call, so a crash leaves a row that may have been
    sent, never one that looks unsent), then `sent`, `dead` or `unknown`. `attempts` is the
    claim's fencing token: every claim bumps it, and a dispatcher changes a row only while
    the count it claimed is still there.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._keyed: dict[str, OutboxMessage] = {}
        self._unflushed: list[OutboxMessage] = []
        # Rows without a key, inserted together at the next flush by one multi-row INSERT:
        # the ORM's unit of work would cost more than the rest of a reply's handling.
        self._plain: list[OutboxMessage] = []

    def add(
        self,
        *,
        platform: str,
        conversation_key: str,
        address: dict[str, Any],
        reply: dict[str, Any],
        inbox_id: int | None = None,
        ticket_ref: str | None = None,
        dedup_key: str | None = None,
        delivered: bool = False,
    ) -> OutboxMessage:
        """A new reply, inserted at the unit of work's next flush or commit.

        The returned row is not in the session: its `id` is set when it is inserted. With
        `dedup_key` the reply is sent at most once per key ever: a key seen before, in this
        transaction or any other, adds nothing, and the returned row keeps `id` None.
        `delivered` stores it `sent` at once: for a page that reads its replies from the
        outbox, the commit is the delivery, and no dispatcher needs to claim it.
        """
        if dedup_key is not None and dedup_key in self._keyed:
            return self._keyed[dedup_key]
        now = utcnow()
        settled = delivered and dedup_key is None
        row = unsaved(
            OutboxMessage,
            {
                "platform": platform,
                "conversation_key": conversation_key,
                "address": address,
                "reply": reply,
                "inbox_id": inbox_id,
                "ticket_ref": ticket_ref,
                "status": OutboxStatus.SENT if settled else OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "sent_at": now if settled else None,
                "dedup_key": dedup_key,
            },
        )
        if dedup_key is None:
            self._plain.append(row)
        else:
            self._keyed[dedup_key] = row
            self._unflushed.append(row)
        return row

    async def flush_keyed(self) -> None:
        """Insert the rows added since the last flush, skipping keys already stored."""
        plain, self._plain = self._plain, []
        if plain:
            values = [
                {
                    "platform": r.platform,
                    "conversation_key": r.conversation_key,
                    "address": r.address,
                    "reply": r.reply,
                    "inbox_id": r.inbox_id,
                    "ticket_ref": r.ticket_ref,
                    "status": r.status,
                    "attempts": 0,
                    "next_attempt_at": r.next_attempt_at,
                    "created_at": r.next_attempt_at,
                    "sent_at": r.sent_at,
                }
                for r in plain
            ]
            ids = await self.session.run_sync(insert_many, _INSERT_MANY, values)
            for r, i in zip(plain, ids, strict=True):
                r.id = i
        rows, self._unflushed = self._unflushed, []
        for row in rows:
            assert row.dedup_key is not None
            row.id = await self.add_once(  # type: ignore[assignment]
                dedup_key=row.dedup_key,
                platform=row.platform,
                conversation_key=row.conversation_key,
                address=row.address,
                reply=row.reply,
                inbox_id=row.inbox_id,
                ticket_ref=row.ticket_ref,
            )

    async def add_once(
        self,
        *,
        dedup_key: str,
        platform: str,
        conversation_key: str,
        address: dict[str, Any],
        reply: dict[str, Any],
        inbox_id: int | None = None,
        ticket_ref: str | None = None,
    ) -> int | None:
        """Insert a reply unless one with `dedup_key` exists, committed or not: its id, or None.

        Concurrent transactions with the same key wait for each other on the unique index,
        so exactly one of them inserts.
        """
        dialect = self.session.get_bind().dialect.name
        upsert = insert_of(dialect)
        stmt = (
            upsert(OutboxMessage)
            .values(
                platform=platform,
                conversation_key=conversation_key,
                address=address,
                reply=reply,
                inbox_id=inbox_id,
                ticket_ref=ticket_ref,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=utcnow(),
                created_at=utcnow(),
                dedup_key=dedup_key,
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.dedup_key])
            .returning(OutboxMessage.id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def claim(
        self,
        platforms: Sequence[str],
        *,
        conversations: Sequence[str] | None = None,
        limit: int = 100,
        per_conversation: int = 3,
        lease_seconds: float = 60.0,
    ) -> list[ClaimedReply]:
        """Lease the due heads of conversations: up to `per_conversation` of each, in order.

        A conversation's later replies are never claimed while an earlier one waits, is
        leased or is being sent, so one slow conversation holds back only itself. On
        PostgreSQL `SKIP LOCKED` lets several dispatchers claim side by side; SQLite
        serialises writers anyway.
        """
        now = utcnow()
        params: dict[str, Any] = {
            "platforms": list(platforms),
            "now": now,
            "per_conversation": per_conversation,
            "limit": limit,
        }
        if conversations is not None:
            params["conversations"] = list(conversations)
        pick, lock = _claim_statements(conversations is not None)
        candidates = _prefixes(
            (row_id, (platform, conversation), rank)
            for row_id, platform, conversation, rank in await pick.rows(self.session, params)
        )
        if not candidates:
            return []
        found = await lock.rows(self.session, {"ids": [c[0] for c in candidates], "now": now})
        locked = {r[0] for r in found}
        chosen = _prefixes((c[0], c[1], c[2]) for c in candidates if c[0] in locked)
        if not chosen:
            return []
        leased = await _LEASE.rows(
            self.session,
            {
                "ids": [c[0] for c in chosen],
                "lease": now + timedelta(seconds=lease_seconds),
            },
        )
        return _claimed(leased)

    async def claim_lapsed(
        self,
        platforms: Sequence[str],
        *,
        conversations: Sequence[str] | None = None,
        limit: int = 100,
        lease_seconds: float = 60.0,
    ) -> list[ClaimedReply]:
        """Lease rows whose sender vanished mid-send: they may have reached the platform."""
        now = utcnow()
        t = OutboxMessage
        pick = select(t.id).where(
            t.platform.in_(platforms), t.status == OutboxStatus.SENDING, t.lease_until < now
        )
        if conversations is not None:
            pick = pick.where(t.conversation_key.in_(conversations))
        pick = pick.order_by(t.id).limit(limit).with_for_update(skip_locked=True)
        chosen = list(await self.session.scalars(pick))
        if not chosen:
            return []
        c = _OUTBOX.c
        result = await self.session.execute(
            update(_OUTBOX)
            .where(c.id.in_(chosen), c.status == OutboxStatus.SENDING, c.lease_until < now)
            .values(lease_until=now + timedelta(seconds=lease_seconds), attempts=c.attempts + 1)
            .returning(*_CLAIMED_COLUMNS)
        )
        return _claimed(result.all())

    async def begin_send(self, outbox_id: int, token: int, *, lease_seconds: float) -> bool:
        """Mark a claimed row as being sent; False when the claim is no longer ours.

        Commit this before calling the platform: from then on the row counts as possibly sent.
        """
        now = utcnow()
        result = await self.session.execute(
            _BEGIN_SEND,
            {
                "row_id": outbox_id,
                "token": token,
                "now": now,
                "new_lease": now + timedelta(seconds=lease_seconds),
            },
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def release(
        self, outbox_id: int, token: int, *, at: datetime, error: str, refund: bool = True
    ) -> bool:
        """Give back a claimed row that was not sent, due again at `at`."""
        values: dict[str, Any] = {"next_attempt_at": at, "lease_until": None, "error": error[:2000]}
        if refund:
            values["attempts"] = _OUTBOX.c.attempts - 1
        return await self._set(outbox_id, token, OutboxStatus.PENDING, **values)

    async def mark_sent(
        self,
        outbox_id: int,
        token: int,
        external_id: str | None,
        *,
        held: OutboxStatus = OutboxStatus.SENDING,
    ) -> bool:
        """Record a send; false when the claim (`token`) is no longer ours.

        `held` is the state the claim left the row in: `sending`, or `pending` for a reply
        that a page reads from the outbox itself (nothing was committed before its "send").
        """
        return await self._set(
            outbox_id,
            token,
            held,
            status=OutboxStatus.SENT,
            sent_at=utcnow(),
            external_id=external_id,
            lease_until=None,
            error=None,
        )

    async def mark_sent_many(
        self, claims: Sequence[tuple[int, int]], *, held: OutboxStatus = OutboxStatus.SENDING
    ) -> set[int]:
        """Record sends without a platform id, in one statement; the ids still ours.

        `claims` are `(id, token)` pairs; a row whose claim is no longer ours is left alone.
        """
        if not claims:
            return set()
        t = _OUTBOX
        result = await self.session.execute(
            update(t)
            .where(tuple_(t.c.id, t.c.attempts).in_(list(claims)), t.c.status == held)
            .values(
                status=OutboxStatus.SENT,
                sent_at=utcnow(),
                external_id=None,
                lease_until=None,
                error=None,
            )
            .returning(t.c.id)
        )
        return set(result.scalars())

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
        self,
        outbox_id: int,
        token: int,
        *,
        at: datetime,
        error: str,
        refund: bool = False,
        held: OutboxStatus = OutboxStatus.SENDING,
    ) -> bool:
        """Send again at `at`: the platform surely did not take it (refused, or never reached).

        `refund` gives back the attempt (we held back, nothing was sent).
        """
        values: dict[str, Any] = {
            "status": OutboxStatus.PENDING,
            "next_attempt_at": at,
            "lease_until": None,
            "error": error[:2000],
        }
        if refund:
            values["attempts"] = _OUTBOX.c.attempts - 1
        return await self._set(outbox_id, token, held, **values)

    async def mark_dead(
        self, outbox_id: int, token: int, error: str, *, held: OutboxStatus = OutboxStatus.SENDING
    ) -> bool:
        """Give up on the row; false when the claim is no longer ours."""
        return await self._set(
            outbox_id, token, held, status=OutboxStatus.DEAD, lease_until=None, error=error[:2000]
        )

    async def mark_unknown(
        self, outbox_id: int, token: int, error: str, *, held: OutboxStatus = OutboxStatus.SENDING
    ) -> bool:
        """The send may have arrived: never sent again; false when the claim is not ours."""
        return await self._set(
            outbox_id,
            token,
            held,
            status=OutboxStatus.UNKNOWN,
            lease_until=None,
            error=error[:2000],
        )

    async def _set(self, outbox_id: int, token: int, held: OutboxStatus, **values: Any) -> bool:
        """Change a row we still hold: same claim token, still in the state we left it."""
        t = _OUTBOX
        result = await self.session.execute(
            update(t)
            .where(t.c.id == outbox_id, t.c.attempts == token, t.c.status == held)
            .values(**values)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

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
        """The replies an inbox event produced, in order."""
        stmt = select(OutboxMessage).where(OutboxMessage.inbox_id == inbox_id)
        return list(await self.session.scalars(stmt.order_by(OutboxMessage.id)))

    async def counts(self) -> dict[str, int]:
        """How many rows are in each status."""
        rows = await self.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return {str(status): int(n) for status, n in rows.all()}


_OUTBOX = cast(Table, OutboxMessage.__table__)
_BEGIN_SEND = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("row_id"),
        _OUTBOX.c.attempts == bindparam("token"),
        _OUTBOX.c.status == OutboxStatus.PENDING,
        _OUTBOX.c.lease_until >= bindparam("now"),
    )
    .values(status=OutboxStatus.SENDING, lease_until=bindparam("new_lease"))
)


_CLAIMED_COLUMNS = (
    _OUTBOX.c.id,
    _OUTBOX.c.platform,
    _OUTBOX.c.conversation_key,
    _OUTBOX.c.address,
    _OUTBOX.c.reply,
    _OUTBOX.c.attempts,
    _OUTBOX.c.status,
    _OUTBOX.c.ticket_ref,
)
_LEASE = Direct(
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_until=bindparam("lease"), attempts=_OUTBOX.c.attempts + 1)
    .returning(*_CLAIMED_COLUMNS)
)


def _claimed(rows: Iterable[Any]) -> list[ClaimedReply]:
    return sorted((ClaimedReply(*r) for r in rows), key=lambda r: r.id)


_CLAIMS: dict[bool, tuple[Direct, Direct]] = {}


def _claim_statements(by_conversation: bool) -> tuple[Direct, Direct]:
    """The claim's two reads (due heads of conversations; lock them), built once each."""
    found = _CLAIMS.get(by_conversation)
    if found is not None:
        return found
    t = OutboxMessage
    now: BindParameter[datetime] = bindparam("now")
    open_rows = t.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
    # The platform is compared as an expression (`platform || ''`), which no index serves:
    # given the column, SQLite walks every row of the platform in `ix_outbox_conversation`
    # (for the window's order), sent ones too, which grows with the history; this way it
    # finds the few open rows through `ix_outbox_status_due` and sorts those.
    platform = t.platform.concat("")
    scope = [platform.in_(bindparam("platforms", expanding=True)), open_rows]
    if by_conversation:
        scope.append(t.conversation_key.in_(bindparam("conversations", expanding=True)))
    rank = (
        func.row_number()
        .over(partition_by=(t.platform, t.conversation_key), order_by=t.id)
        .label("rank")
    )
    ranked = select(
        t.id, t.platform, t.conversation_key, t.status, t.next_attempt_at, t.lease_until, rank
    ).where(*scope)
    heads = ranked.subquery()
    free = or_(heads.c.lease_until.is_(None), heads.c.lease_until < now)
    pick = (
        select(heads.c.id, heads.c.platform, heads.c.conversation_key, heads.c.rank)
        .where(
            heads.c.rank <= bindparam("per_conversation"),
            heads.c.status == OutboxStatus.PENDING,
            heads.c.next_attempt_at <= now,
            free,
        )
        .order_by(heads.c.id)
        .limit(bindparam("limit"))
        .execution_options(**reads("outbox"))
    )
    lock = (
        select(t.id, t.platform, t.conversation_key)
        .where(
            t.id.in_(bindparam("ids", expanding=True)),
            t.status == OutboxStatus.PENDING,
            or_(t.lease_until.is_(None), t.lease_until < now),
        )
        .order_by(t.id)
        .with_for_update(skip_locked=True)
        .execution_options(**reads("outbox"))
    )
    found = _CLAIMS[by_conversation] = (Direct(pick), Direct(lock))
    return found


def _prefixes(
    candidates: Iterable[tuple[int, tuple[str, str], int]],
) -> list[tuple[int, tuple[str, str], int]]:
    """Keep, per conversation, only an unbroken run from its first open row (rank 1)."""
    by_conversation: dict[tuple[str, str], list[tuple[int, tuple[str, str], int]]] = {}
    for c in sorted(candidates, key=lambda c: (c[1], c[2])):
        run = by_conversation.setdefault(c[1], [])
        if c[2] == len(run) + 1:
            run.append(c)
    return sorted((c for run in by_conversation.values() for c in run), key=lambda c: c[0])
