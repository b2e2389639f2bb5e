"""Slack: the `SlackChannel` adapter and, beside it, one module per job.

`SlackChannel` is imported on first use, so the pure parts (`render`, `parse`, `markup`)
load without slack-bolt, slack-sdk and aiohttp.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from channels.slack.adapter import SlackChannel

__all__ = ["SlackChannel"]


def __getattr__(name: str) -> Any:
    if name == "SlackChannel":
        from channels.slack.adapter import SlackChannel

        return SlackChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
