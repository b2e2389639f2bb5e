"""The one conversation model every platform is normalised into.

Standard library only: importing this module must never load a platform SDK. Every value is
a frozen dataclass that round-trips through plain JSON (`to_dict` / `from_dict`), which is
how events travel through the inbox and replies through the outbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

_PHONE_SEPARATORS = re.compile(r"[\s().\-]")
_PHONE_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")


def phone_candidate(value: str) -> str | None:
    """Text written like an international phone number, as `+` and digits, or None.

    Separators go and a `00` prefix becomes `+`; nothing more. This does NOT validate the
    number against any numbering plan: that takes `channels.phones` (libphonenumber), which
    the channels and the application use. It is for code that may import only this model
    and must hand on a number somebody typed; the channel that delivers to it validates.
    """
    cleaned = _PHONE_SEPARATORS.sub("", value.strip())
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    return cleaned if _PHONE_SHAPE.match(cleaned) else None


def mask_phone(value: str, *, keep_leading: int = 0) -> str:
    """A phone number with all but its last four digits starred (`+*******0123`).

    `keep_leading` digits stay at the front (a country code, when the caller knows its
    length). Text with fewer than seven digits (a date, a short code) is returned as is.
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return value
    head = digits[: min(keep_leading, len(digits) - 4)]
    starred = "*" * (len(digits) - 4 - len(head))
    return ("+" if value.strip().startswith("+") else "") + head + starred + digits[-4:]


class ButtonStyle(StrEnum):
    """How prominent a button is; channels without styles ignore it."""

    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


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
        return {
            "channel": self.channel,
            "workspace": self.workspace,
            "conversation": self.conversation,
            "thread": self.thread,
            "user": self.user,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Address:
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
        return {
            "platform": self.platform,
            "external_id": self.external_id,
            "display_name": self.display_name,
            "email": self.email,
            "phone": self.phone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        return cls(
            platform=str(data["platform"]),
            external_id=str(data["external_id"]),
            display_name=data.get("display_name"),
            email=data.get("email"),
            phone=data.get("phone"),
        )


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
        return "message"

    def to_dict(self) -> dict[str, Any]:
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
        return "action"

    def answer(self, reply: Reply) -> Reply:
        """`reply` as an answer to this click: one that `replaces` a card edits the one clicked."""
        if self.message_id and reply.replaces:
            return replace(reply, edit_id=self.message_id)
        return reply

    def to_dict(self) -> dict[str, Any]:
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
        return "alert"

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Button:
    """A choice offered with a reply; a click comes back as an `Action(name=action)`.

    `keyword` is what a person types on a channel without buttons (SMS) to make the same
    choice, e.g. `YES 4821`; channels number the buttons when it is empty.
    """

    label: str
    action: str
    value: str = ""
    style: ButtonStyle = ButtonStyle.DEFAULT
    keyword: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "action": self.action,
            "value": self.value,
            "style": self.style.value,
            "keyword": self.keyword,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Button:
        return cls(
            label=str(data["label"]),
            action=str(data["action"]),
            value=str(data.get("value") or ""),
            style=ButtonStyle(data.get("style") or ButtonStyle.DEFAULT),
            keyword=str(data.get("keyword") or ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketCard:
    """A ticket summarised for display: Block Kit on Slack, a text block elsewhere."""

    ref: str
    title: str
    kind: str
    status: str
    priority: str | None = None
    service: str | None = None
    requester: str | None = None
    assignee: str | None = None
    version: int = 0
    fields: tuple[tuple[str, str], ...] = ()
    # (English name, name in the reader's language) for Status, Priority, Service, Assignee
    # and Requester: the handler knows the reader, the channels need not know languages.
    labels: tuple[tuple[str, str], ...] = ()

    def label(self, name: str) -> str:
        """A fact's name as the reader reads it; the English name when none is given."""
        return dict(self.labels).get(name, name)

    def lines(self) -> list[str]:
        """The card as plain text lines, for channels without rich layout."""
        head = f"{self.ref} · {self.title}"
        facts = [f"{self.label('Status')}: {self.status}"]
        if self.priority:
            facts.append(f"{self.label('Priority')}: {self.priority}")
        if self.service:
            facts.append(f"{self.label('Service')}: {self.service}")
        if self.assignee:
            facts.append(f"{self.label('Assignee')}: {self.assignee}")
        out = [head, " · ".join(facts)]
        out.extend(f"{k}: {v}" for k, v in self.fields)
        return out

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ref": self.ref,
            "title": self.title,
            "kind": self.kind,
            "status": self.status,
            "priority": self.priority,
            "service": self.service,
            "requester": self.requester,
            "assignee": self.assignee,
            "version": self.version,
            "fields": [list(f) for f in self.fields],
        }
        if self.labels:
            data["labels"] = [list(pair) for pair in self.labels]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TicketCard:
        return cls(
            ref=str(data["ref"]),
            title=str(data.get("title") or ""),
            kind=str(data.get("kind") or ""),
            status=str(data.get("status") or ""),
            priority=data.get("priority"),
            service=data.get("service"),
            requester=data.get("requester"),
            assignee=data.get("assignee"),
            version=int(data.get("version") or 0),
            fields=tuple((str(k), str(v)) for k, v in data.get("fields") or ()),
            labels=tuple((str(k), str(v)) for k, v in data.get("labels") or ()),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """A titled group of tickets in an overview, each card with the buttons about it.

    A button belongs to the card whose reference is its `value`; `empty` is what to say
    when the group has no tickets.
    """

    title: str
    cards: tuple[TicketCard, ...] = ()
    buttons: tuple[Button, ...] = ()
    empty: str = ""

    def buttons_for(self, ref: str) -> tuple[Button, ...]:
        """The buttons about one card of this section."""
        return tuple(b for b in self.buttons if b.value == ref)

    def lines(self) -> list[str]:
        """The section as plain text lines, for channels without rich layout."""
        out = [self.title]
        for c in self.cards:
            facts = [c.status] + ([c.priority] if c.priority else [])
            out.append(f"• {c.ref} · {c.title} ({', '.join(facts)})")
        if not self.cards and self.empty:
            out.append(self.empty)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "cards": [c.to_dict() for c in self.cards],
            "buttons": [b.to_dict() for b in self.buttons],
            "empty": self.empty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        return cls(
            title=str(data.get("title") or ""),
            cards=tuple(TicketCard.from_dict(c) for c in data.get("cards") or ()),
            buttons=tuple(Button.from_dict(b) for b in data.get("buttons") or ()),
            empty=str(data.get("empty") or ""),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the bot says back: platform-neutral text, optional buttons and a ticket card.

    `ticket_ref` names the ticket the reply is about, so channels can thread updates and
    edit a card in place; `replaces` asks the channel to update an earlier card for that
    ticket instead of posting a new one, where the platform allows it. `public` marks a reply
    that may be shown where others can read it (a public X reply); personal details never go
    into a public reply. `edit_id` is the platform's id of the earlier message to update, and
    `delivery_key` a key unique to this reply that a channel may attach to the message so a
    retry after a timeout can find out whether the first attempt arrived; the dispatcher fills
    both in, handlers never set them. `sensitive` marks a reply holding a secret (a one-time
    code): its text is not kept once it has been sent.

    `ephemeral` asks that only the addressed person see it, in place (Slack's
    `chat.postEphemeral` in the conversation or thread); channels without that send it as a
    private message to the person, never where others read.

    `overview` marks the person's overview (open tickets, queue, approvals) laid out in
    `sections`: a channel with a personal dashboard (the Slack App Home) shows it there instead
    of posting a message; others send it as text.

    `human` marks words a person on the desk wrote for the requester (an agent's answer, an
    incident lead's update), as opposed to what the bot says on its own; Meta lets only such
    messages go out with its `HUMAN_AGENT` tag after the 24-hour window.
    """

    text: str
    buttons: tuple[Button, ...] = ()
    card: TicketCard | None = None
    ticket_ref: str | None = None
    replaces: bool = False
    public: bool = False
    edit_id: str | None = None
    delivery_key: str | None = None
    sensitive: bool = False
    overview: bool = False
    sections: tuple[Section, ...] = ()
    ephemeral: bool = False
    human: bool = False

    def fallback_text(self) -> str:
        """The reply for channels without buttons or cards: choices become numbered lines."""
        parts = [self.text]
        if self.card is not None:
            parts.append("\n".join(self.card.lines()))
        parts.extend("\n".join(section.lines()) for section in self.sections)
        if self.buttons:
            choices = []
            for i, b in enumerate(self.buttons, start=1):
                key = b.keyword or str(i)
                choices.append(f"Reply {key} to {b.label.lower()}")
            parts.append("\n".join(choices))
        return "\n\n".join(p for p in parts if p)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [b.to_dict() for b in self.buttons],
            "card": self.card.to_dict() if self.card else None,
            "ticket_ref": self.ticket_ref,
            "replaces": self.replaces,
            "public": self.public,
            "edit_id": self.edit_id,
            "delivery_key": self.delivery_key,
            "sensitive": self.sensitive,
            "overview": self.overview,
            "sections": [section.to_dict() for section in self.sections],
            "ephemeral": self.ephemeral,
            "human": self.human,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reply:
        card = data.get("card")
        return cls(
            text=str(data.get("text") or ""),
            buttons=tuple(Button.from_dict(b) for b in data.get("buttons") or ()),
            card=TicketCard.from_dict(card) if card else None,
            ticket_ref=data.get("ticket_ref"),
            replaces=bool(data.get("replaces", False)),
            public=bool(data.get("public", False)),
            edit_id=data.get("edit_id"),
            delivery_key=data.get("delivery_key"),
            sensitive=bool(data.get("sensitive", False)),
            overview=bool(data.get("overview", False)),
            sections=tuple(Section.from_dict(x) for x in data.get("sections") or ()),
            ephemeral=bool(data.get("ephemeral", False)),
            human=bool(data.get("human", False)),
        )
