"""What Meta's messaging rules remember per person, and where older releases kept it.

Each value is a row of the application's `PlatformStateStore` under `(kind, channel,
address)`, where `channel` is `messenger` or `instagram` and `address` the page-scoped id:

- `window`: when the person last wrote (ISO 8601), which opens the 24-hour window;
- `comment_pending`: their latest comment awaiting its private reply (`channels.meta.private`);
- `comment_answered`: the last comment answered privately.

Older releases kept these among the `Cursors` (`meta:last_message:…`, `meta:comment:…`,
`meta:comment_answered:…`); an address not in the store yet is looked up there once.
"""

from __future__ import annotations

from datetime import datetime

from channels.base import Cursors, PlatformStateStore, RuleState

WINDOW = "window"
PENDING = "comment_pending"
ANSWERED = "comment_answered"
_LEGACY = {WINDOW: "meta:last_message", PENDING: "meta:comment", ANSWERED: "meta:comment_answered"}


def legacy_key(kind: str, channel: str, address: str) -> str:
    """The `Cursors` key older releases kept a value under."""
    return f"{_LEGACY.get(kind, f'meta:{kind}')}:{channel}:{address}"


def rule_state(store: PlatformStateStore, cursors: Cursors | None) -> RuleState:
    """`store` as Meta's rules use it, reading what older releases left in `cursors`."""
    return RuleState(store, legacy=cursors, legacy_key=legacy_key)


def _time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


class LastMessages:
    """When each person last wrote to the page: the start of their messaging window."""

    def __init__(self, state: RuleState) -> None:
        self._state = state

    async def wrote(self, channel: str, user: str, at: datetime) -> None:
        """Record a message written at `at`, unless a later one is already recorded.

        Compare-and-set, so of two events handled at once the later time stays, whichever
        is written last.
        """

        def later(current: str) -> str | None:
            known = _time(current)
            try:
                if known is not None and known >= at:
                    return None
            except TypeError:
                pass  # a time without a zone cannot be compared: the new one replaces it
            return at.isoformat()

        await self._state.update(WINDOW, channel, user, later)

    async def at(self, channel: str, user: str) -> datetime | None:
        """When the person last wrote, if known."""
        return _time(await self._state.value(WINDOW, channel, user))
