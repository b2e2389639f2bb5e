"""The durable "awaiting a public answer" mark: one public reply per complaint, never two.

An accepted mention marks its author as awaiting a public answer (`x.public.<user>` holds the
tweet id and when it was seen); the first reply about a ticket within the window takes the
mark (`x.answered.<user>` holds the last tweet answered), so later updates go by DM only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from channels.base import Cursors
from channels.x.parse import newer, snowflake

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Claim:
    """A tweet taken for a public answer, and the mark to put back if the post fails."""

    tweet_id: str
    previous: str


@dataclass
class PublicAnswers:
    """The marks, kept in the channel's cursors."""

    cursors: Cursors
    window: float = 86_400.0

    @staticmethod
    def _pending_key(user: str) -> str:
        return f"x.public.{user}"

    @staticmethod
    def _answered_key(user: str) -> str:
        return f"x.answered.{user}"

    async def await_answer(self, user: str, tid: str) -> None:
        """Mark `user`'s tweet `tid` as awaiting a public answer (a newer tweet wins)."""
        current = await self.cursors.get(self._pending_key(user))
        if current and not newer(tid, current.partition(" ")[0]):
            return
        await self.cursors.set(self._pending_key(user), f"{tid} {int(time.time())}")

    async def claim(self, user: str) -> Claim | None:
        """Take the person's tweet awaiting a public answer, if one is recent enough."""
        pending = await self.cursors.get(self._pending_key(user))
        if not pending:
            return None
        tid, _, seen = pending.partition(" ")
        answered = await self.cursors.get(self._answered_key(user)) or ""
        if snowflake(tid) is None or not newer(tid, answered or None):
            return None
        try:
            age = time.time() - float(seen)
        except ValueError:
            return None
        if age > self.window:
            return None
        # Taken before posting: a crash after the post can cost the answer, never repeat it.
        await self.cursors.set(self._answered_key(user), tid)
        return Claim(tweet_id=tid, previous=answered)

    async def release(self, user: str, claim: Claim) -> None:
        """Put the mark back after a post that certainly did not happen."""
        try:
            await self.cursors.set(self._answered_key(user), claim.previous)
        except Exception as e:
            log.warning("x.public_release_failed", tweet_id=claim.tweet_id, error=repr(e))
