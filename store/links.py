"""Identity links: one-time codes that bind a platform account to a directory person.

A code's secret is stored only as a salted hash keyed by the deployment's secret; a code
lives 15 minutes, is used once (a compare-and-set on `redeemed_at`), and dies after five
wrong guesses from any accounts. A pairing code (typed from the account being linked, so
found without knowing who sends it) is a public lookup part and a secret part,
`ABCD-EFGH23`: the lookup finds the one open code, whose wrong guesses are then counted
against it; the senders who guess are also slowed down by `LinkGuard`.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.enums import PersonKind
from store.hotpath import insert_of
from store.link_codes import (
    CODE_TTL,
    LEGACY_PAIRING_LENGTH,
    MAX_FAILURES,
    PAIRING_ALPHABET,
    PAIRING_LOOKUP_LENGTH,
    PAIRING_SECRET_LENGTH,
    digest,
    normalise_code,
    random_code,
    show_pairing,
    split_pairing,
    use_secret,
)
from store.link_tables import LinkAttempt, LinkGuard, LinkMethod
from store.models import ChannelIdentity, Person, Ticket
from store.types import utcnow

# The codes' rules live in `store.link_codes` and the tables in `store.link_tables`; callers
# read these names from here.
__all__ = [
    "CODE_TTL",
    "LEGACY_PAIRING_LENGTH",
    "MAX_FAILURES",
    "PAIRING_ALPHABET",
    "AdoptResult",
    "Adoption",
    "LinkAttempt",
    "LinkGuard",
    "LinkMethod",
    "LinkRepository",
    "normalise_code",
    "show_pairing",
    "split_pairing",
    "use_secret",
]


class Adoption(StrEnum):
    """What binding an account to a person did."""

    BOUND = "bound"  # the account was unknown; it now belongs to the person
    ALREADY = "already"  # it already belonged to them
    MOVED = "moved"  # it belonged to a contact, whose tickets came along
    TAKEN = "taken"  # it belongs to another directory person: refused


@dataclass(frozen=True, slots=True)
class AdoptResult:
    """What binding did, and how many tickets of a contact came along."""

    outcome: Adoption
    tickets_moved: int = 0


def _insert(dialect: str) -> Any:
    return insert_of(dialect)


class LinkRepository:
    """Link codes and the guard against guessing, inside one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- codes ----------------------------------------------------------------------------

    async def issue(
        self,
        person: Person,
        method: LinkMethod,
        *,
        origin_key: str,
        target: tuple[str, str] | None = None,
        now: datetime | None = None,
    ) -> tuple[LinkAttempt, str]:
        """A new code for `person`; their earlier open code of the same method is closed.

        Returns the attempt and the code in clear, which exists nowhere else: the caller
        delivers it and forgets it.
        """
        now = now or utcnow()
        await self.session.execute(
            update(LinkAttempt)
            .where(
                LinkAttempt.person_id == person.id,
                LinkAttempt.method == method,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
            )
            .values(closed_at=now, closed_reason="replaced"),
            execution_options={"synchronize_session": False},
        )
        salt, lookup = secrets.token_hex(8), None
        if method is LinkMethod.SMS:
            code = secret = f"{secrets.randbelow(10**6):06d}"
        else:
            lookup, secret = await self._free_lookup(now), random_code(PAIRING_SECRET_LENGTH)
            code = lookup + secret
        attempt = LinkAttempt(
            person_id=person.id,
            method=method,
            target_platform=target[0] if target else None,
            target_external_id=target[1] if target else None,
            origin_key=origin_key,
            lookup=lookup,
            code_hash=digest(secret, salt),
            salt=salt,
            failures=0,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        self.session.add(attempt)
        await self.session.flush()
        return attempt, code

    async def issued_since(self, person_id: int, since: datetime) -> int:
        """How many codes the person asked for since `since` (to bound texts sent)."""
        stmt = select(func.count(LinkAttempt.id)).where(
            LinkAttempt.person_id == person_id, LinkAttempt.created_at >= since
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def open_sms_attempt(
        self, person_id: int, origin_key: str, now: datetime | None = None
    ) -> LinkAttempt | None:
        """The person's open, unexpired text-message code asked for in this conversation."""
        now = now or utcnow()
        stmt = (
            select(LinkAttempt)
            .where(
                LinkAttempt.person_id == person_id,
                LinkAttempt.method == LinkMethod.SMS,
                LinkAttempt.origin_key == origin_key,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
                LinkAttempt.expires_at > now,
            )
            .order_by(LinkAttempt.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def open_sms_attempts(
        self, person_id: int, now: datetime | None = None
    ) -> list[LinkAttempt]:
        """Every open, unexpired text-message code of a person, wherever it was asked for."""
        now = now or utcnow()
        stmt = select(LinkAttempt).where(
            LinkAttempt.person_id == person_id,
            LinkAttempt.method == LinkMethod.SMS,
            LinkAttempt.redeemed_at.is_(None),
            LinkAttempt.closed_at.is_(None),
            LinkAttempt.expires_at > now,
        )
        return list(await self.session.scalars(stmt))

    async def _free_lookup(self, now: datetime) -> str:
        """A lookup part that no open pairing code holds."""
        for _ in range(20):
            lookup = random_code(PAIRING_LOOKUP_LENGTH)
            if lookup.isdigit():
                continue  # all digits, "link 2345…" would read as a phone number
            if await self.by_lookup(lookup, now) is None:
                return lookup
        # A million lookups and twenty misses in a row: far more open codes than people.
        raise RuntimeError("no free link code lookup")

    async def by_lookup(self, lookup: str, now: datetime | None = None) -> LinkAttempt | None:
        """The open, unexpired pairing attempt with this lookup part (None if there is none)."""
        now = now or utcnow()
        stmt = (
            select(LinkAttempt)
            .where(
                LinkAttempt.lookup == normalise_code(lookup),
                LinkAttempt.method == LinkMethod.PAIRING,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
                LinkAttempt.expires_at > now,
            )
            .order_by(LinkAttempt.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    @staticmethod
    def matches(attempt: LinkAttempt, code: str) -> bool:
        """Whether `code` is the attempt's code (its secret part compared in constant time)."""
        secret = normalise_code(code)
        if attempt.lookup is not None:
            parts = split_pairing(secret)
            if parts is None or not hmac.compare_digest(parts[0], attempt.lookup):
                return False
            secret = parts[1]
        return hmac.compare_digest(attempt.code_hash, digest(secret, attempt.salt))

    @staticmethod
    def is_open(attempt: LinkAttempt, now: datetime | None = None) -> bool:
        """Whether the code can still be used: not redeemed, closed or expired."""
        now = now or utcnow()
        return (
            attempt.redeemed_at is None and attempt.closed_at is None and attempt.expires_at > now
        )

    async def fail(self, attempt: LinkAttempt, now: datetime | None = None) -> int:
        """Count a wrong code against an open attempt; the fifth closes it. Returns the count."""
        now = now or utcnow()
        locked = LinkAttempt.failures + 1 >= MAX_FAILURES
        result = await self.session.execute(
            update(LinkAttempt)
            .where(
                LinkAttempt.id == attempt.id,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
            )
            .values(
                failures=LinkAttempt.failures + 1,
                closed_at=case((locked, now), else_=None),
                closed_reason=case((locked, "locked"), else_=None),
            )
            .returning(LinkAttempt.failures),
            execution_options={"synchronize_session": False},
        )
        count = result.scalar_one_or_none()
        # Closed meanwhile (locked by a concurrent guess, replaced): as good as locked.
        return MAX_FAILURES if count is None else int(count)

    async def redeem(
        self, attempt: LinkAttempt, platform: str, external_id: str, now: datetime | None = None
    ) -> bool:
        """Use the code: true for exactly one caller, however many try at once."""
        now = now or utcnow()
        result = await self.session.execute(
            update(LinkAttempt)
            .where(
                LinkAttempt.id == attempt.id,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
                LinkAttempt.expires_at > now,
            )
            .values(redeemed_at=now, redeemed_platform=platform, redeemed_external_id=external_id),
            execution_options={"synchronize_session": False},
        )
        return bool(getattr(result, "rowcount", 0))

    async def close(self, attempt: LinkAttempt, reason: str, now: datetime | None = None) -> None:
        """End an open attempt (cancelled, or its code was shown where others can read it)."""
        await self.session.execute(
            update(LinkAttempt)
            .where(
                LinkAttempt.id == attempt.id,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
            )
            .values(closed_at=now or utcnow(), closed_reason=reason[:16]),
            execution_options={"synchronize_session": False},
        )

    async def close_open(self, person_id: int, reason: str, now: datetime | None = None) -> int:
        """End every open attempt of a person; how many there were."""
        result = await self.session.execute(
            update(LinkAttempt)
            .where(
                LinkAttempt.person_id == person_id,
                LinkAttempt.redeemed_at.is_(None),
                LinkAttempt.closed_at.is_(None),
            )
            .values(closed_at=now or utcnow(), closed_reason=reason[:16]),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- guessing -------------------------------------------------------------------------

    async def guard_failures(
        self, platform: str, external_id: str, now: datetime | None = None
    ) -> int:
        """Wrong codes this account sent in the current window."""
        now = now or utcnow()
        row = await self.session.get(LinkGuard, (platform, external_id))
        if row is None or row.window_started_at <= now - CODE_TTL:
            return 0
        return row.failures

    async def guard_fail(self, platform: str, external_id: str, now: datetime | None = None) -> int:
        """Count a wrong code sent by this account; returns the count in the window."""
        now = now or utcnow()
        cutoff = now - CODE_TTL
        dialect = self.session.get_bind().dialect.name
        insert = _insert(dialect)(LinkGuard).values(
            platform=platform, external_id=external_id, failures=1, window_started_at=now
        )
        stale = LinkGuard.window_started_at <= cutoff
        stmt = insert.on_conflict_do_update(
            index_elements=["platform", "external_id"],
            set_={
                "failures": case((stale, 1), else_=LinkGuard.failures + 1),
                "window_started_at": case((stale, now), else_=LinkGuard.window_started_at),
            },
        ).returning(LinkGuard.failures)
        result = await self.session.execute(stmt)
        return int(result.scalar_one())

    async def guard_clear(self, platform: str, external_id: str) -> None:
        """Forget the account's wrong codes (it just used a right one)."""
        row = await self.session.get(LinkGuard, (platform, external_id))
        if row is not None:
            await self.session.delete(row)

    # -- binding --------------------------------------------------------------------------

    async def adopt(self, person: Person, platform: str, external_id: str) -> AdoptResult:
        """Bind an account to `person`, proven by a redeemed code.

        An account of a contact (someone who wrote in before being linked) moves over, and
        when it was the contact's only account, so do the contact's tickets. An account of
        another directory person is never taken.
        """
        ident = (
            await self.session.scalars(
                select(ChannelIdentity).where(
                    ChannelIdentity.platform == platform,
                    ChannelIdentity.external_id == external_id,
                )
            )
        ).first()
        if ident is None:
            self.session.add(
                ChannelIdentity(
                    person_id=person.id, platform=platform, external_id=external_id, verified=True
                )
            )
            await self.session.flush()
            return AdoptResult(Adoption.BOUND)
        if ident.person_id == person.id:
            return AdoptResult(Adoption.ALREADY)
        owner = await self.session.get(Person, ident.person_id)
        if owner is not None and owner.kind is not PersonKind.CONTACT:
            return AdoptResult(Adoption.TAKEN)
        ident.person_id = person.id
        ident.verified = True
        await self.session.flush()
        moved = 0
        if owner is not None:
            left = await self.session.execute(
                select(func.count(ChannelIdentity.id)).where(ChannelIdentity.person_id == owner.id)
            )
            if int(left.scalar_one()) == 0:
                tickets = await self.session.scalars(
                    select(Ticket).where(Ticket.requester_id == owner.id)
                )
                for ticket in tickets:
                    # Through the ORM, so each ticket's version moves and racing edits conflict.
                    ticket.requester = person
                    moved += 1
                owner.active = False
                await self.session.flush()
        return AdoptResult(Adoption.MOVED, tickets_moved=moved)

    async def identities(self, person_id: int) -> list[ChannelIdentity]:
        """The person's platform accounts, oldest first."""
        stmt = (
            select(ChannelIdentity)
            .where(ChannelIdentity.person_id == person_id)
            .order_by(ChannelIdentity.id)
        )
        return list(await self.session.scalars(stmt))
