"""What is said back: `Reply` with its `Button`s, `TicketCard` and `Section`s.

Platform-neutral: each channel renders a reply in its own way (Block Kit, inline keyboards,
plain text with numbered choices). A reply round-trips through plain JSON, which is how it
travels through the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ButtonStyle(StrEnum):
    """How prominent a button is; channels without styles ignore it."""

    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


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
        """The value as plain JSON."""
        return {
            "label": self.label,
            "action": self.action,
            "value": self.value,
            "style": self.style.value,
            "keyword": self.keyword,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Button:
        """Rebuild the value from its `to_dict` form."""
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
        """The value as plain JSON."""
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
        """Rebuild the value from its `to_dict` form."""
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
        """The value as plain JSON."""
        return {
            "title": self.title,
            "cards": [c.to_dict() for c in self.cards],
            "buttons": [b.to_dict() for b in self.buttons],
            "empty": self.empty,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        """Rebuild the value from its `to_dict` form."""
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
        """The value as plain JSON."""
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
        """Rebuild the value from its `to_dict` form."""
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
