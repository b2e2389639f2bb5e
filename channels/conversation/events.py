"""What arrives: `Message` (text), `Action` (a click or command), `Alert` (monitoring).

Each round-trips through plain JSON, which is how events travel through the inbox;
`event_from_dict` rebuilds whichever one a stored form holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from channels.conversation.parties import Address, Identity

if TYPE_CHECKING:
    from channels.conversation.replies import Reply


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A text a person sent.

    `event_id` is the platform's unique id of the delivery (Slack `event_id`, Telegram
    `update_id`, Twilio `MessageSid`); together with the channel it is the inbox's dedup key.
    `direct` is true for one-to-one chats and mentions of the bot, where every message is
    meant for us.
    """

    event_id: str
    address: Address
    sender: Identity
    text: str
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    direct: bool = True
    attachments: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """What kind of event this is: `message`, `action` or `alert`."""
        return "message"

    def to_dict(self) -> dict[str, Any]:
        """The value as plain JSON."""
        return {
            "kind": "message",
            "event_id": self.event_id,
            "address": self.address.to_dict(),
            "sender": self.sender.to_dict(),
            "text": self.text,
            "received_at": self.received_at.isoformat(),
            "direct": self.direct,
            "attachments": list(self.attachments),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A button click, menu choice, form submission or slash command, with its payload.

    `name` says what was asked for (`approve`, `resolve`, `choose_intent`, `command`), `value`
    carries the target (a ticket reference such as `CHG-12`), `params` anything else the
    platform sent with it (form fields, the card version the person saw). `text` is set for
    commands whose argument is free text (`/ticket printer jammed`). `message_id` is the
    channel's own id of the message whose button was clicked, in the form that channel takes
    back as `Reply.edit_id`; nobody else reads it.
    """

    event_id: str
    address: Address
    sender: Identity
    name: str
    value: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    text: str = ""
    message_id: str | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def kind(self) -> str:
        """What kind of event this is: `message`, `action` or `alert`."""
        return "action"

    def answer(self, reply: Reply) -> Reply:
        """`reply` as an answer to this click: one that `replaces` a card edits the one clicked."""
        if self.message_id and reply.replaces:
            return replace(reply, edit_id=self.message_id)
        return reply

    def to_dict(self) -> dict[str, Any]:
        """The value as plain JSON."""
        return {
            "kind": "action",
            "event_id": self.event_id,
            "address": self.address.to_dict(),
            "sender": self.sender.to_dict(),
            "name": self.name,
            "value": self.value,
            "params": dict(self.params),
            "text": self.text,
            "message_id": self.message_id,
            "received_at": self.received_at.isoformat(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A monitoring event: a problem a source saw firing on a configuration item, or clearing.

    `fingerprint` identifies the problem across notifications (Alertmanager's alert
    fingerprint); `event_id` identifies this notification (fingerprint, status and start),
    so a repeated delivery is recognised by the inbox. `ci` is the configuration item the
    source named, `severity` its own word for it (`critical`, `warning`, ...). The address
    is the integration's: `conversation` is the fingerprint, so events about one problem
    are handled in order.
    """

    event_id: str
    address: Address
    sender: Identity
    source: str
    fingerprint: str
    status: str
    ci: str = ""
    severity: str = ""
    summary: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def kind(self) -> str:
        """What kind of event this is: `message`, `action` or `alert`."""
        return "alert"

    @property
    def firing(self) -> bool:
        """True while the alert fires; False once it is resolved."""
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
        """The value as plain JSON."""
        return {
            "kind": "alert",
            "event_id": self.event_id,
            "address": self.address.to_dict(),
            "sender": self.sender.to_dict(),
            "source": self.source,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "ci": self.ci,
            "severity": self.severity,
            "summary": self.summary,
            "labels": dict(self.labels),
            "starts_at": self.starts_at.isoformat() if self.starts_at else None,
            "received_at": self.received_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        """Rebuild the value from its `to_dict` form."""
        starts = data.get("starts_at")
        return cls(
            event_id=str(data["event_id"]),
            address=Address.from_dict(data["address"]),
            sender=Identity.from_dict(data["sender"]),
            source=str(data.get("source") or ""),
            fingerprint=str(data["fingerprint"]),
            status=str(data["status"]),
            ci=str(data.get("ci") or ""),
            severity=str(data.get("severity") or ""),
            summary=str(data.get("summary") or ""),
            labels={str(k): str(v) for k, v in (data.get("labels") or {}).items()},
            starts_at=_parse_time(starts) if starts else None,
            received_at=_parse_time(data.get("received_at") or datetime.now(UTC)),
        )


Event = Message | Action | Alert


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuild a `Message`, `Action` or `Alert` from its `to_dict` form."""
    if data.get("kind") == "alert":
        return Alert.from_dict(data)
    address = Address.from_dict(data["address"])
    sender = Identity.from_dict(data["sender"])
    received_at = _parse_time(data.get("received_at") or datetime.now(UTC))
    if data.get("kind") == "action":
        params = data.get("params") or {}
        return Action(
            event_id=str(data["event_id"]),
            address=address,
            sender=sender,
            name=str(data["name"]),
            value=str(data.get("value") or ""),
            params={str(k): str(v) for k, v in params.items()},
            text=str(data.get("text") or ""),
            # Events stored before the field existed carried it among the params.
            message_id=data["message_id"] if "message_id" in data else params.get("message_id"),
            received_at=received_at,
        )
    return Message(
        event_id=str(data["event_id"]),
        address=address,
        sender=sender,
        text=str(data.get("text") or ""),
        received_at=received_at,
        direct=bool(data.get("direct", True)),
        attachments=tuple(str(a) for a in data.get("attachments") or ()),
    )
