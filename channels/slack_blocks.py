"""Block Kit for Slack: messages with ticket cards, the App Home, and the ticket and note forms.

Pure functions from the conversation model to Slack's JSON and back; nothing here talks to
Slack. Every text that came from a person is escaped before it reaches mrkdwn, so nobody can
make the bot ping `<!channel>`, mention a user or disguise a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from channels.conversation import Button, ButtonStyle, Reply, Section, TicketCard

TICKET_FORM = "sb_ticket_form"
"""`callback_id` of the modal that files an incident or a request."""
NOTE_FORM = "sb_note_form"
"""`callback_id` of the modal that adds a note to a ticket."""
NEW_TICKET = "sb_new_ticket"
"""Action of the App Home button (and callback of the global shortcut) opening the form."""

KINDS = {"incident": "Something is broken", "request": "I need something"}
URGENCIES = {"high": "High: I can't work", "medium": "Medium: it slows me down", "low": "Low"}

MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_TEXT = 3000
MAX_LABEL = 75
MAX_OPTIONS = 100
MAX_SUMMARY = 150
MAX_DESCRIPTION = 3000
MAX_NOTE = 3000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100

# Bidirectional controls can make a link or a reference read differently from what it is.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ENTITY = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_VERSION = re.compile(r"^v(\d{1,9})\.")
_SPACES = re.compile(r"[ \t]{2,}")


def escape(text: str) -> str:
    """Text made inert for mrkdwn: `&`, `<` and `>` escaped, bidirectional controls removed.

    Slack builds mentions, channel pings and links only from `<...>`, so escaped text
    cannot form any of them.
    """
    clean = _BIDI.sub("", text)
    return clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, *, drop: Sequence[str] = ()) -> str:
    """Slack's formatted text as a person reads it; mentions of the users in `drop` removed.

    `<@U1|ann>` becomes `@ann`, `<#C1|general>` `#general`, `<!here>` `@here`, a labelled
    link `label (url)`, and the `&amp;`-style entities are decoded.
    """

    def flatten(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if target[1:] in drop:
                return ""
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            if word in ("here", "channel", "everyone"):
                return "@" + word
            return label or word
        address = target.removeprefix("mailto:")
        if label and label not in (target, address):
            return f"{label} ({address})"
        return address

    flat = _ENTITY.sub(flatten, text)
    flat = flat.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _SPACES.sub(" ", flat).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack must not turn bare words into links or mentions on its own.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _plain_text(text: str, limit: int = MAX_LABEL) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or " ", "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_clip(text, MAX_SECTION))}


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


def stamp(now: datetime) -> str:
    """A time every reader sees in their own time zone (`<!date>`), with a UTC fallback."""
    seconds = int(now.timestamp())
    fallback = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user: str) -> str:
    """A mention of a Slack user id, or nothing when it is not one."""
    return f"<@{user}>" if _USER_ID.match(user) else ""


# -- ticket cards and buttons --------------------------------------------------------------


def card_blocks(card: TicketCard) -> list[dict[str, Any]]:
    """A ticket as a section: reference and title, then its facts as fields."""
    facts = [
        ("Status", card.status),
        ("Priority", card.priority),
        ("Service", card.service),
        ("Assignee", card.assignee),
        ("Requester", card.requester),
        *card.fields,
    ]
    fields = [
        _mrkdwn(_clip(f"*{escape(name)}*\n{escape(value)}", MAX_FIELD))
        for name, value in facts
        if value
    ][:10]
    head = f"*{escape(card.ref)}* · {escape(card.title)}"
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(_clip(head, MAX_SECTION))}
    if fields:
        block["fields"] = fields
    return [block]


def button_element(button: Button, index: int) -> dict[str, Any]:
    """One button; `action_id` is `<action>:<n>` because ids must be unique in a block."""
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{button.action}:{index}",
        "text": _plain_text(button.label),
        "value": button.value[:2000],
    }
    if button.style is not ButtonStyle.DEFAULT:
        element["style"] = button.style.value
    if button.style is ButtonStyle.DANGER:
        element["confirm"] = {
            "title": _plain_text("Are you sure?", 100),
            "text": _plain_text(f"{button.label} {button.value}?".strip(), 300),
            "confirm": _plain_text(button.label, 30),
            "deny": _plain_text("Cancel", 30),
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
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain_text(section.title, 150)}]
    if not section.cards and section.empty:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(section.empty))]})
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
        blocks.append({"type": "context", "elements": [_mrkdwn(by + stamp(now))]})
    summary = text or (f"{reply.card.ref} · {reply.card.title}" if reply.card else "")
    return {
        "text": _clip(escape(summary or reply.fallback_text()), MAX_TEXT),
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
        {"type": "header", "text": _plain_text("Switchboard · IT service desk", 150)},
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
                    "text": _plain_text("New ticket"),
                    "style": "primary",
                    "value": "",
                }
            ],
        }
    )
    for n, section in enumerate(reply.sections, start=1):
        blocks.append({"type": "divider"})
        blocks.extend(section_blocks(section, position=n))
    blocks.append({"type": "context", "elements": [_mrkdwn("Updated " + stamp(now))]})
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}


# -- forms ----------------------------------------------------------------------------------


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain_text(label), "value": value[:150]}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain_text(label, 2000),
        "optional": optional,
        "element": {**element, "action_id": block_id},
    }


def ticket_form(
    *,
    services: Sequence[str],
    summary: str = "",
    description: str = "",
    kind: str = "incident",
    meta: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The modal filing an incident or a request: kind, summary, service, urgency, details."""
    kinds = [_option(k, label) for k, label in KINDS.items()]
    urgencies = [_option(k, label) for k, label in URGENCIES.items()]
    summary_input: dict[str, Any] = {"type": "plain_text_input", "max_length": MAX_SUMMARY}
    if summary.strip():
        summary_input["initial_value"] = _clip(summary.strip(), MAX_SUMMARY)
    details: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": MAX_DESCRIPTION,
    }
    if description.strip():
        details["initial_value"] = _clip(description.strip(), MAX_DESCRIPTION)
    blocks = [
        _input(
            "kind",
            "What is it?",
            {
                "type": "radio_buttons",
                "options": kinds,
                "initial_option": kinds[0] if kind != "request" else kinds[1],
            },
        ),
        _input("summary", "Summary", summary_input),
    ]
    names = [s for s in dict.fromkeys(services) if s][:MAX_OPTIONS]
    if names:
        blocks.append(
            _input(
                "service",
                "Affected service",
                {
                    "type": "static_select",
                    "placeholder": _plain_text("Pick a service"),
                    "options": [_option(s, s) for s in names],
                },
                optional=True,
            )
        )
    blocks += [
        _input(
            "urgency",
            "Urgency",
            {"type": "static_select", "options": urgencies, "initial_option": urgencies[1]},
        ),
        _input("description", "Details", details, optional=True),
    ]
    return {
        "type": "modal",
        "callback_id": TICKET_FORM,
        "title": _plain_text("New ticket", 24),
        "submit": _plain_text("File ticket", 24),
        "close": _plain_text("Cancel", 24),
        "private_metadata": json.dumps(dict(meta or {}))[:3000],
        "blocks": blocks,
    }


def note_form(ref: str, *, meta: Mapping[str, str]) -> dict[str, Any]:
    """The modal adding a note to a ticket."""
    return {
        "type": "modal",
        "callback_id": NOTE_FORM,
        "title": _plain_text(f"Note on {ref}", 24),
        "submit": _plain_text("Add note", 24),
        "close": _plain_text("Cancel", 24),
        "private_metadata": json.dumps({**meta, "ref": ref})[:3000],
        "blocks": [
            _input(
                "note",
                "Note",
                {"type": "plain_text_input", "multiline": True, "max_length": MAX_NOTE},
            )
        ],
    }


class FormError(ValueError):
    """A submitted form the person must correct: `errors` maps a block id to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


def form_metadata(view: Mapping[str, Any]) -> dict[str, str]:
    """The string values a form carried in `private_metadata`."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}


def _value(values: Mapping[str, Any], block: str) -> str:
    entry = values.get(block)
    if not isinstance(entry, Mapping):
        return ""
    field = entry.get(block)
    if not isinstance(field, Mapping):
        field = next((v for v in entry.values() if isinstance(v, Mapping)), {})
    if isinstance(field.get("selected_option"), Mapping):
        return str(field["selected_option"].get("value") or "")
    value = field.get("value")
    return value if isinstance(value, str) else ""


def _offered(view: Mapping[str, Any], block: str) -> set[str]:
    for b in view.get("blocks") or ():
        if isinstance(b, Mapping) and b.get("block_id") == block:
            element = b.get("element") or {}
            return {str(o.get("value")) for o in element.get("options") or () if o}
    return set()


def read_ticket_form(view: Mapping[str, Any]) -> dict[str, str]:
    """The fields of a submitted ticket form; `FormError` names what to fix."""
    values = (view.get("state") or {}).get("values") or {}
    if not isinstance(values, Mapping):
        values = {}
    errors: dict[str, str] = {}
    summary = " ".join(_value(values, "summary").split())
    if not summary:
        errors["summary"] = "Please give the ticket a short summary."
    elif len(summary) > MAX_SUMMARY:
        errors["summary"] = f"Keep the summary under {MAX_SUMMARY} characters."
    kind = _value(values, "kind")
    if kind not in KINDS:
        errors["kind"] = "Choose whether something is broken or you need something."
    urgency = _value(values, "urgency")
    if urgency not in URGENCIES:
        errors["urgency"] = "Choose how urgent it is."
    service = _value(values, "service")
    if service and service not in _offered(view, "service"):
        errors["service"] = "Pick a service from the list."
    description = _value(values, "description").strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = f"Keep the details under {MAX_DESCRIPTION} characters."
    if errors:
        raise FormError(errors)
    fields = {"kind": kind, "summary": summary, "urgency": urgency}
    if service:
        fields["service"] = service
    if description:
        fields["description"] = description
    link = form_metadata(view).get("link", "")
    if link.startswith("https://"):
        fields["link"] = link
    return fields


def read_note_form(view: Mapping[str, Any]) -> str:
    """The note of a submitted note form; `FormError` when it is empty."""
    values = (view.get("state") or {}).get("values") or {}
    note = _value(values if isinstance(values, Mapping) else {}, "note").strip()
    if not note:
        raise FormError({"note": "Write the note you want to add."})
    if len(note) > MAX_NOTE:
        raise FormError({"note": f"Keep the note under {MAX_NOTE} characters."})
    return note
