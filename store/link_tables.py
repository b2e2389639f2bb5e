"""The tables of identity links: codes issued, and the guard against guessing them.

`link_attempts` holds each code as its salted hash with what became of it; `link_guards`
counts the wrong codes each platform account sent within the current window.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models import Base, enum_column
from store.types import utcnow


class LinkMethod(StrEnum):
    """How the code travels.

    `sms`: sent by text message to the number being linked, typed back where it was asked
    for. `pairing`: shown where it was asked for, sent from the account being linked.
    """

    SMS = "sms"
    PAIRING = "pairing"


class LinkAttempt(Base):
    """One code: who asked, for which account, where, and what became of it."""

    __tablename__ = "link_attempts"
    __table_args__ = (Index("ix_link_attempts_person_method", "person_id", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    method: Mapped[LinkMethod] = mapped_column(enum_column(LinkMethod, 16))
    target_platform: Mapped[str | None] = mapped_column(String(32), default=None)
    target_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    origin_key: Mapped[str] = mapped_column(String(400))
    # The public half of a pairing code, unique among open codes (None for text codes).
    lookup: Mapped[str | None] = mapped_column(String(8), default=None, index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    salt: Mapped[str] = mapped_column(String(32), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    redeemed_at: Mapped[datetime | None] = mapped_column(default=None)
    redeemed_platform: Mapped[str | None] = mapped_column(String(32), default=None)
    redeemed_external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_reason: Mapped[str | None] = mapped_column(String(16), default=None)


class LinkGuard(Base):
    """Wrong codes sent per platform account within the current 15-minute window."""

    __tablename__ = "link_guards"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(default=utcnow)
