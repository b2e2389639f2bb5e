"""Where a conversation happens and who is in it: `Address` and `Identity`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    """Where a conversation happens and who is on the other end.

    `conversation` is the platform's chat, channel, phone number or DM id; `thread` is set on
    platforms with threads (Slack `thread_ts`, X conversation id) so replies stay in place.
    `user` is the platform's immutable id of the person, never a display name.
    """

    channel: str
    conversation: str
    user: str
    workspace: str = ""
    thread: str | None = None

    @property
    def key(self) -> str:
        """A stable key for one conversation (dialogue state, locks, ordering).

        The workspace is left out: platforms' conversation ids are unique on their own, and
        an address built from configuration (an announcement channel) may not know it.
        """
        return ":".join([self.channel, self.conversation, self.thread or ""])

    def to_dict(self) -> dict[str, Any]:
        """The value as plain JSON."""
        return {
            "channel": self.channel,
            "workspace": self.workspace,
            "conversation": self.conversation,
            "thread": self.thread,
            "user": self.user,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Address:
        """Rebuild the value from its `to_dict` form."""
        return cls(
            channel=str(data["channel"]),
            workspace=str(data.get("workspace") or ""),
            conversation=str(data["conversation"]),
            thread=data.get("thread"),
            user=str(data["user"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who sent an event, as the platform knows them.

    `platform` plus `external_id` is the immutable key a directory person is linked to; the
    other fields are hints the platform volunteered and are never used to merge people.
    """

    platform: str
    external_id: str
    display_name: str | None = None
    email: str | None = None
    phone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The value as plain JSON."""
        return {
            "platform": self.platform,
            "external_id": self.external_id,
            "display_name": self.display_name,
            "email": self.email,
            "phone": self.phone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """Rebuild the value from its `to_dict` form."""
        return cls(
            platform=str(data["platform"]),
            external_id=str(data["external_id"]),
            display_name=data.get("display_name"),
            email=data.get("email"),
            phone=data.get("phone"),
        )
