"""Replies as Block Kit: messages with ticket cards and buttons, and the App Home tab.

Pure functions from the conversation model to Slack's JSON; nothing here talks to Slack.
Every text that came from a person is escaped before it reaches mrkdwn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply, Section, TicketCard
from channels.slack.ids import NEW_TICKET
from channels.slack.markup import clip, escape, mention, mrkdwn, plain_text, stamp

MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_TEXT = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

_VERSION = re.compile(r"^v(\d{1,9})\.")


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(clip(text, MAX_SECTION))}


def _sections(text: str, limit: int = MAX_SECTION) -> list[dict[str, Any]]:
    """Text longer than one section allows, split at line ends into several."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            chunks.append(current)
        while len(line) > limit:
            chunks.append(line[:limit])
            line = line[limit:]
        current = line
    if current:
        chunks.append(current)
    return [_section(c) for c in chunks[:20]]


# -- ticket cards and buttons --------------------------------------------------------------


def card_blocks(card: TicketCard) -> list[dict[str, Any]]:
    """A ticket as a section: reference and title, then its facts as fields."""
    facts = [
        (card.label("Status"), card.status),
        (card.label("Priority"), card.priority),
        (card.label("Service"), card.service),
        (card.label("Assignee"), card.assignee),
        (card.label("Requester"), card.requester),
        *card.fields,
    ]
    fields = [
        mrkdwn(clip(f"*{escape(name)}*\n{escape(value)}", MAX_FIELD))
        for name, value in facts
        if value
    ][:10]
    head = f"*{escape(card.ref)}* · {escape(card.title)}"
    block: dict[str, Any] = {"type": "section", "text": mrkdwn(clip(head, MAX_SECTION))}
    if fields:
        block["fields"] = fields
    return [block]


def button_element(button: Button, index: int) -> dict[str, Any]:
    """One button; `action_id` is `<action>:<n>` because ids must be unique in a block."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{button.action}:{index}",
        "text": plain_text(button.label),
        "value": button.value[:2000],
    }
    if button.style is not ButtonStyle.DEFAULT:
        element["style"] = button.style.value
    if button.style is ButtonStyle.DANGER:
        element["confirm"] = {
            "title": plain_text("Are you sure?", 100),
            "text": plain_text(f"{button.label} {button.value}?".strip(), 300),
            "confirm": plain_text(button.label, 30),
            "deny": plain_text("Cancel", 30),
            "style": "danger",
        }
    return element


def actions_block(
    buttons: Sequence[Button], *, version: int | None, position: int
) -> dict[str, Any]:
    """Buttons in one row. `block_id` carries the card version the person was shown."""
    prefix = f"v{version}" if version is not None else "b"
    return {
        "type": "actions",
        "block_id": f"{prefix}.{position}",
        "elements": [button_element(b, i) for i, b in enumerate(buttons[:25])],
    }


def shown_version(block_id: str) -> str | None:
    """The card version recorded in a clicked block's id, if any."""
    found = _VERSION.match(block_id or "")
    return found.group(1) if found else None


def action_name(action_id: str) -> str:
    """The action a button stands for, from its `action_id`."""
    name, sep, index = (action_id or "").rpartition(":")
    return name if sep and index.isdigit() else action_id


def section_blocks(section: Section, *, position: int) -> list[dict[str, Any]]:
    """One overview group: a title, then each card with its own buttons."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain_text(section.title, 150)}]
    if not section.cards and section.empty:
        blocks.append({"type": "context", "elements": [mrkdwn(escape(section.empty))]})
    for n, card in enumerate(section.cards):
        blocks.extend(card_blocks(card))
        own = section.buttons_for(card.ref)
        if own:
            blocks.append(actions_block(own, version=card.version, position=position * 100 + n))
    return blocks


# -- messages -------------------------------------------------------------------------------


def render(
    reply: Reply,
    *,
    now: datetime,
    editor: str | None = None,
    shared: bool = False,
) -> dict[str, Any]:
    """A reply as `chat.postMessage` / `chat.update` arguments (`text` and `blocks`).

    An edit (`reply.edit_id` set) of a card in a shared channel is seen by everyone, so it
    says what the ticket is now and who changed it, not the clicker's personal
    confirmation ("You approved ...").
    """
    editing = reply.edit_id is not None
    text = reply.text
    if editing and shared and editor and reply.card is not None:
        text = f"{reply.card.ref} is {reply.card.status}."
    blocks: list[dict[str, Any]] = []
    if text:
        blocks.extend(_sections(escape(text)))
    if reply.card is not None:
        blocks.extend(card_blocks(reply.card))
    for n, section in enumerate(reply.sections, start=1):
        blocks.extend(section_blocks(section, position=n))
    if reply.buttons:
        version = reply.card.version if reply.card is not None else None
        blocks.append(actions_block(reply.buttons, version=version, position=0))
    if editing:
        who = mention(editor or "")
        by = f"Updated by {who} · " if who else "Updated "
        blocks.append({"type": "context", "elements": [mrkdwn(by + stamp(now))]})
    summary = text or (f"{reply.card.ref} · {reply.card.title}" if reply.card else "")
    return {
        "text": clip(escape(summary or reply.fallback_text()), MAX_TEXT),
        "blocks": blocks[:MAX_MESSAGE_BLOCKS],
    }


def card_state(reply: Reply) -> tuple[str, ...] | None:
    """What a card edit would show, to recognise an update that changes nothing."""
    card = reply.card
    if card is None:
        return None
    return (
        card.ref,
        card.status,
        card.priority or "",
        card.assignee or "",
        str(card.version),
        *(f"{b.action}={b.value}" for b in reply.buttons),
    )


def render_home(reply: Reply, *, now: datetime) -> dict[str, Any]:
    """The App Home tab for an overview reply (`views.publish`)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text("Switchboard · IT service desk", 150)},
    ]
    if reply.text:
        blocks.append(_section(escape(reply.text)))
    blocks.append(
        {
            "type": "actions",
            "block_id": "home.tools",
            "elements": [
                {
                    "type": "button",
                    "action_id": f"{NEW_TICKET}:0",
                    "text": plain_text("New ticket"),
                    "style": "primary",
                    "value": "",
                }
            ],
        }
    )
    for n, section in enumerate(reply.sections, start=1):
        blocks.append({"type": "divider"})
        blocks.extend(section_blocks(section, position=n))
    blocks.append({"type": "context", "elements": [mrkdwn("Updated " + stamp(now))]})
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
