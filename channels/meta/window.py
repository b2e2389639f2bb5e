"""Meta's standard messaging window: when a page may answer, and with which messaging type.

A page may send anything within 24 hours of the person's last message (`RESPONSE`). After
that, the `HUMAN_AGENT` tag allows a human agent's answer for up to seven days, where the
app is approved for it; otherwise the reply must wait until the person writes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

STANDARD = timedelta(hours=24)
HUMAN_AGENT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Permission:
    """How a reply may go now: `fields` to add to the Send API request, or `wait`."""

    fields: dict[str, str] | None
    wait: bool = False
    expired: bool = False


def permission(
    last_message: datetime | None, now: datetime, *, human_agent: bool, hold_limit: timedelta
) -> Permission:
    """The messaging type for a reply at `now`, given the person's last message time.

    Unknown time (a conversation seen before tracking began): send as a response and let
    Meta say if the window is closed. `expired` means the reply has waited longer than
    `hold_limit` for the person to come back and should be given up.
    """
    if last_message is None:
        return Permission({"messaging_type": "RESPONSE"})
    age = now - last_message
    if age <= STANDARD:
        return Permission({"messaging_type": "RESPONSE"})
    if human_agent and age <= HUMAN_AGENT:
        return Permission({"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})
    return Permission(None, wait=True, expired=age > hold_limit)
