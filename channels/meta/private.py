"""The durable "awaiting a private reply" mark: one private reply per comment, never two.

Meta lets a page answer a public comment once, privately, within seven days of the comment
(Messenger and Instagram Private Replies). A comment does not open the 24-hour messaging
window: until the person writes to the page, that one reply is all the page may send.

An accepted comment marks its author (`meta:comment:<channel>:<user>` holds the comment id
and when it was made, a newer comment wins); the first reply to the person takes the mark
(`meta:comment_answered:<channel>:<user>` holds the last comment answered), so later replies
go to the person's thread under the window rules, as `channels.x.public` does for X.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from channels.base import Cursors

log = structlog.get_logger(__name__)

PRIVATE_REPLY_WINDOW = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Pending:
    """A comment awaiting its private reply."""

    comment_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    """A comment taken for a private reply, and the mark to put back if sending fails."""

    comment_id: str
    previous: str


def _decode(value: str | None) -> Pending | None:
    if not value:
        return None
    cid, _, seconds = value.partition(" ")
    try:
        at = datetime.fromtimestamp(float(seconds), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return Pending(comment_id=cid, at=at) if cid else None


@dataclass
class PrivateReplies:
    """The marks, kept in the channel's cursors."""

    cursors: Cursors
    window: timedelta = PRIVATE_REPLY_WINDOW

    @staticmethod
    def _pending_key(channel: str, user: str) -> str:
        return f"meta:comment:{channel}:{user}"

    @staticmethod
    def _answered_key(channel: str, user: str) -> str:
        return f"meta:comment_answered:{channel}:{user}"

    async def await_reply(self, channel: str, user: str, comment_id: str, at: datetime) -> None:
        """Mark `user`'s comment as awaiting a private reply (a newer comment wins)."""
        current = _decode(await self.cursors.get(self._pending_key(channel, user)))
        if current is not None and current.at > at:
            return
        await self.cursors.set(self._pending_key(channel, user), f"{comment_id} {at.timestamp()}")

    async def pending(self, channel: str, user: str) -> Pending | None:
        """The person's latest comment, answered or not (None if they never commented)."""
        return _decode(await self.cursors.get(self._pending_key(channel, user)))

    async def claim(self, channel: str, user: str, now: datetime) -> Claim | None:
        """Take the person's comment awaiting a private reply, if Meta still allows one."""
        pending = await self.pending(channel, user)
        if pending is None or now - pending.at > self.window:
            return None
        answered = await self.cursors.get(self._answered_key(channel, user)) or ""
        if answered == pending.comment_id:
            return None
        # Taken before sending: a crash after the send can cost the reply, never repeat it.
        await self.cursors.set(self._answered_key(channel, user), pending.comment_id)
        return Claim(comment_id=pending.comment_id, previous=answered)

    async def release(self, channel: str, user: str, claim: Claim) -> None:
        """Put the mark back after a send that certainly did not happen."""
        try:
            await self.cursors.set(self._answered_key(channel, user), claim.previous)
        except Exception as e:
            log.warning("meta.private_release_failed", comment_id=claim.comment_id, error=repr(e))
