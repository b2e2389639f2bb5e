"""The durable "awaiting a private reply" mark: one private reply per comment, never two.

Meta lets a page answer a public comment once, privately, within seven days of the comment
(Messenger and Instagram Private Replies). A comment does not open the 24-hour messaging
window: until the person writes to the page, that one reply is all the page may send.

An accepted comment marks its author (`comment_pending` holds the comment id and when it was
made, a newer comment wins); the first reply to the person takes the mark (`comment_answered`
holds the last comment answered), so later replies go to the person's thread under the
window rules, as `channels.x.public` does for X. Both live in a `PlatformStateStore` and
change by compare-and-set: of two workers answering the same person at once, exactly one
takes the mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from channels.base import Cursors, MemoryPlatformState, PlatformStateStore, RuleState
from channels.meta.state import ANSWERED, PENDING, rule_state

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
    version: int = 0


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
    """The marks, kept in `store`; `cursors` is where older releases kept them."""

    cursors: Cursors | None = None
    window: timedelta = PRIVATE_REPLY_WINDOW
    store: PlatformStateStore = field(default_factory=MemoryPlatformState)
    _state: RuleState = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._state = rule_state(self.store, self.cursors)

    async def await_reply(self, channel: str, user: str, comment_id: str, at: datetime) -> None:
        """Mark `user`'s comment as awaiting a private reply (a newer comment wins)."""
        mark = f"{comment_id} {at.timestamp()}"

        def newer(current: str) -> str | None:
            known = _decode(current)
            if current == mark or (known is not None and known.at > at):
                return None
            return mark

        await self._state.update(PENDING, channel, user, newer)

    async def pending(self, channel: str, user: str) -> Pending | None:
        """The person's latest comment, answered or not (None if they never commented)."""
        return _decode(await self._state.value(PENDING, channel, user))

    async def claim(self, channel: str, user: str, now: datetime) -> Claim | None:
        """Take the person's comment awaiting a private reply, if Meta still allows one."""
        pending = await self.pending(channel, user)
        if pending is None or now - pending.at > self.window:
            return None
        cid = pending.comment_id

        def take(answered: str) -> str | None:
            return None if answered == cid else cid

        # Taken before sending: a crash after the send can cost the reply, never repeat it.
        taken = await self._state.update(ANSWERED, channel, user, take)
        if taken is None:
            return None
        previous, written = taken
        return Claim(comment_id=cid, previous=previous, version=written.version)

    async def release(self, channel: str, user: str, claim: Claim) -> None:
        """Put the mark back after a send that certainly did not happen.

        Only while it is still this claim's: a later claim stands.
        """
        try:
            await self._state.compare_and_set(
                ANSWERED, channel, user, claim.version, claim.previous
            )
        except Exception as e:
            log.warning("meta.private_release_failed", comment_id=claim.comment_id, error=repr(e))
