"""Slack: the `SlackChannel` adapter and, beside it, one module per job."""

from channels.slack.adapter import SlackChannel

__all__ = ["SlackChannel"]
