"""Sign-in links for the web (portal and console) and the sessions they open.

A link carries a random token; only its SHA-256 is stored (the token has 256 bits, so no
key is needed to keep a copied database from testing guesses). A link lives 15 minutes and
is used once: a compare-and-set on `used_at` lets exactly one opening through. The row then
stands for the web session, which ends when the person signs out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Person, SignIn
from store.types import utcnow

LINK_TTL = timedelta(minutes=15)
MAX_TOKEN_CHARS = 100


class Redemption(StrEnum):
    """What opening a sign-in link did."""

    SIGNED_IN = "signed_in"
    UNKNOWN = "unknown"  # no such link (mistyped, forged, or from another deployment)
    USED = "used"
    EXPIRED = "expired"
    INACTIVE = "inactive"  # the person has left the directory


@dataclass(frozen=True, slots=True)
class Redeemed:
    """The outcome of opening a link; `sign_in` and `person` are set when it signed in."""

    outcome: Redemption
    sign_in: SignIn | None = None
    person: Person | None = None


def digest(token: str) -> str:
    """What is stored of a link's token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class SignInRepository:
    """Sign-in links and web sessions, inside one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def issue(
        self, person: Person, *, channel: str = "", now: datetime | None = None
    ) -> tuple[SignIn, str]:
        """A new link for `person`; returns the row and the token in clear (shown once)."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        row = SignIn(
            person_id=person.id,
            token_hash=digest(token),
            channel=channel[:32],
            created_at=now,
            expires_at=now + LINK_TTL,
        )
        self.session.add(row)
        await self.session.flush()
        return row, token

    async def redeem(self, token: str, now: datetime | None = None) -> Redeemed:
        """Use a link: `SIGNED_IN` for exactly one caller, however many open it at once."""
        now = now or utcnow()
        if not token or len(token) > MAX_TOKEN_CHARS:
            return Redeemed(Redemption.UNKNOWN)
        row = (
            await self.session.scalars(select(SignIn).where(SignIn.token_hash == digest(token)))
        ).first()
        if row is None:
            return Redeemed(Redemption.UNKNOWN)
        if row.used_at is not None:
            return Redeemed(Redemption.USED)
        if row.expires_at <= now:
            return Redeemed(Redemption.EXPIRED)
        result = await self.session.execute(
            update(SignIn)
            .where(SignIn.id == row.id, SignIn.used_at.is_(None), SignIn.expires_at > now)
            .values(used_at=now),
            execution_options={"synchronize_session": False},
        )
        if not getattr(result, "rowcount", 0):
            return Redeemed(Redemption.USED)
        person = await self.session.get(Person, row.person_id)
        if person is None or not person.active:
            return Redeemed(Redemption.INACTIVE)
        row.used_at = now
        return Redeemed(Redemption.SIGNED_IN, sign_in=row, person=person)

    async def session_person(self, sign_in_id: int) -> Person | None:
        """The person of an open web session (used and not ended), if still active."""
        row = await self.session.get(SignIn, sign_in_id)
        if row is None or row.used_at is None or row.ended_at is not None:
            return None
        person = await self.session.get(Person, row.person_id)
        return person if person is not None and person.active else None

    async def end(self, sign_in_id: int, now: datetime | None = None) -> bool:
        """End a web session (sign-out); false when it had already ended."""
        result = await self.session.execute(
            update(SignIn)
            .where(SignIn.id == sign_in_id, SignIn.ended_at.is_(None))
            .values(ended_at=now or utcnow()),
            execution_options={"synchronize_session": False},
        )
        return bool(getattr(result, "rowcount", 0))

    async def end_all(self, person_id: int, now: datetime | None = None) -> int:
        """End every web session of a person (revocation); how many were open."""
        result = await self.session.execute(
            update(SignIn)
            .where(
                SignIn.person_id == person_id,
                SignIn.used_at.is_not(None),
                SignIn.ended_at.is_(None),
            )
            .values(ended_at=now or utcnow()),
            execution_options={"synchronize_session": False},
        )
        return int(getattr(result, "rowcount", 0) or 0)
