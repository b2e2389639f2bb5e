"""The durable "awaiting a public answer" mark: one public reply per complaint, never two.

An accepted mention marks its author as awaiting a public answer (`public_pending` holds the
tweet id and when it was seen); the first reply about a ticket within the window takes the
mark (`public_answered` holds the last tweet answered), so later updates go by DM only. Both
live in a `PlatformStateStore` and change by compare-and-set: of two workers answering the
same person at once, exactly one takes the mark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog

from channels.base import Cursors, MemoryPlatformState, PlatformStateStore, RuleState
from channels.x.parse import newer, snowflake

log = structlog.get_logger(__name__)

CHANNEL = "x"
PENDING = "public_pending"
ANSWERED = "public_answered"
_LEGACY = {PENDING: "x.public", ANSWERED: "x.answered"}


def legacy_key(kind: str, channel: str, user: str) -> str:
    """The `Cursors` key older releases kept a mark under."""
    return f"{_LEGACY.get(kind, kind)}.{user}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A tweet taken for a public answer, and the mark to put back if the post fails."""

    tweet_id: str
    previous: str
    version: int = 0


@dataclass
class PublicAnswers:
    """The marks, kept in `store`; `cursors` is where older releases kept them."""

    cursors: Cursors | None = None
    window: float = 86_400.0
    store: PlatformStateStore = field(default_factory=MemoryPlatformState)
    _state: RuleState = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._state = RuleState(self.store, legacy=self.cursors, legacy_key=legacy_key)

    async def await_answer(self, user: str, tid: str) -> None:
        """Mark `user`'s tweet `tid` as awaiting a public answer (a newer tweet wins)."""

        def mark(current: str) -> str | None:
            if current and not newer(tid, current.partition(" ")[0]):
                return None
            return f"{tid} {int(time.time())}"

        await self._state.update(PENDING, CHANNEL, user, mark)

    async def claim(self, user: str) -> Claim | None:
        """Take the person's tweet awaiting a public answer, if one is recent enough."""
        pending = await self._state.value(PENDING, CHANNEL, user)
        if not pending:
            return None
        tid, _, seen = pending.partition(" ")
        if snowflake(tid) is None:
            return None
        try:
            age = time.time() - float(seen)
        except ValueError:
            return None
        if age > self.window:
            return None

        def take(answered: str) -> str | None:
            return tid if newer(tid, answered or None) else None

        # Taken before posting: a crash after the post can cost the answer, never repeat it.
        taken = await self._state.update(ANSWERED, CHANNEL, user, take)
        if taken is None:
            return None
        previous, written = taken
        return Claim(tweet_id=tid, previous=previous, version=written.version)

    async def release(self, user: str, claim: Claim) -> None:
        """Put the mark back after a post that certainly did not happen.

        Only while it is still this claim's: a later claim stands.
        """
        try:
            await self._state.compare_and_set(
                ANSWERED, CHANNEL, user, claim.version, claim.previous
            )
        except Exception as e:
            log.warning("x.public_release_failed", tweet_id=claim.tweet_id, error=repr(e))
