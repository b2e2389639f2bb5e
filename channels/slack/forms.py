"""The ticket and note forms (modals): building them, and reading what a person submitted.

A submission that must be corrected raises `FormError`, which the modal shows next to the
fields; nothing is stored then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import PayloadError
from channels.slack.ids import NOTE_FORM, PLATFORM, TICKET_FORM
from channels.slack.markup import clip, plain_text

KINDS = {"incident": "Something is broken", "request": "I need something"}
URGENCIES = {"high": "High: I can't work", "medium": "Medium: it slows me down", "low": "Low"}

MAX_OPTIONS = 100
MAX_SUMMARY = 150
MAX_DESCRIPTION = 3000
MAX_NOTE = 3000


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": plain_text(label), "value": value[:150]}


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain_text(label, 2000),
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
        summary_input["initial_value"] = clip(summary.strip(), MAX_SUMMARY)
    details: dict[str, Any] = {
        "type": "plain_text_input",
        "multiline": True,
        "max_length": MAX_DESCRIPTION,
    }
    if description.strip():
        details["initial_value"] = clip(description.strip(), MAX_DESCRIPTION)
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
                    "placeholder": plain_text("Pick a service"),
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
        "title": plain_text("New ticket", 24),
        "submit": plain_text("File ticket", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": json.dumps(dict(meta or {}))[:3000],
        "blocks": blocks,
    }


def note_form(ref: str, *, meta: Mapping[str, str]) -> dict[str, Any]:
    """The modal adding a note to a ticket."""
    return {
        "type": "modal",
        "callback_id": NOTE_FORM,
        "title": plain_text(f"Note on {ref}", 24),
        "submit": plain_text("Add note", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": json.dumps({**meta, "ref": ref})[:3000],
        "blocks": [
            _input(
                "note",
                "Note",
                {"type": "plain_text_input", "multiline": True, "max_length": MAX_NOTE},
            )
        ],
    }


class FormError(PayloadError):
    """A submitted form the person must correct: `errors` maps a block id to a message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()), platform=PLATFORM)
        self.errors = dict(errors)


def form_metadata(view: Mapping[str, Any]) -> dict[str, str]:
    """The string values a form carried in `private_metadata`."""
    raw = view.get("private_metadata")
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else {}
    except (ValueError, RecursionError):
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
    option = field.get("selected_option")
    value = option.get("value") if isinstance(option, Mapping) else field.get("value")
    return value if isinstance(value, str) else ""


def _offered(view: Mapping[str, Any], block: str) -> set[str]:
    for b in _list(view.get("blocks")):
        if isinstance(b, Mapping) and b.get("block_id") == block:
            element = b.get("element")
            options = _list(element.get("options")) if isinstance(element, Mapping) else []
            return {str(o.get("value")) for o in options if isinstance(o, Mapping)}
    return set()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _values(view: Mapping[str, Any]) -> Mapping[str, Any]:
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def read_ticket_form(view: Mapping[str, Any]) -> dict[str, str]:
    """The fields of a submitted ticket form; `FormError` names what to fix."""
    values = _values(view)
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
    note = _value(_values(view), "note").strip()
    if not note:
        raise FormError({"note": "Write the note you want to add."})
    if len(note) > MAX_NOTE:
        raise FormError({"note": f"Keep the note under {MAX_NOTE} characters."})
    return note
