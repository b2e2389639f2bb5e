"""A catalog item's form as a modal: built from the item's fields, read back on submission.

The channel knows nothing of the catalog: the application hands it a `CatalogForms`
(`channels.catalog_forms`) that says what an item's form holds and checks submitted answers
with the same rules as chat and the portal. A submission the rules refuse goes back to the
modal in Slack's `response_action=errors` shape, next to each field; nothing is stored then.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from channels.base import PayloadError
from channels.catalog_forms import CatalogField, CatalogForm
from channels.conversation import Action, Address, Identity
from channels.slack.forms import FormError, form_metadata
from channels.slack.ids import PLATFORM
from channels.slack.markup import plain_text
from channels.slack.parse import clicker

CATALOG_FORM = "sb_catalog_form"
"""`callback_id` of the modal ordering a catalog item."""
ORDER_ACTION = "catalog_order"
"""The action of a catalog item's button in the catalog list (`handlers.catalog.ORDER`)."""
SUBMITTED = "catalog_form"
"""The action a submitted catalog form becomes for the worker."""

MAX_OPTIONS = 100
MAX_TEXT = 1000
_BLOCK = "field_"


def block_id(field: str) -> str:
    """The block (and action) id of a field's input."""
    return f"{_BLOCK}{field}"


def _element(f: CatalogField) -> dict[str, Any]:
    if f.type == "choice":
        return {
            "type": "static_select",
            "placeholder": plain_text("Choose"),
            "options": [{"text": plain_text(c), "value": c[:150]} for c in f.choices[:MAX_OPTIONS]],
        }
    if f.type == "date":
        return {"type": "datepicker"}
    if f.type == "email":
        return {"type": "email_text_input"}
    return {"type": "plain_text_input", "max_length": MAX_TEXT}


def catalog_modal(form: CatalogForm, *, meta: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The modal ordering `form.item`: one input per field, optional ones marked so."""
    blocks: list[dict[str, Any]] = []
    if form.description.strip():
        blocks.append(
            {"type": "section", "text": plain_text(form.description.strip().splitlines()[0], 2000)}
        )
    for f in form.fields:
        bid = block_id(f.name)
        blocks.append(
            {
                "type": "input",
                "block_id": bid,
                "label": plain_text(f.label, 2000),
                "optional": not f.required,
                "element": {**_element(f), "action_id": bid},
            }
        )
    return {
        "type": "modal",
        "callback_id": CATALOG_FORM,
        "title": plain_text(f"Order {form.item}", 24),
        "submit": plain_text("Submit", 24),
        "close": plain_text("Cancel", 24),
        "private_metadata": json.dumps({**dict(meta or {}), "item": form.item})[:3000],
        "blocks": blocks,
    }


def _field_value(entry: Any) -> str:
    """The answer in one block's state, whatever the element (select, date, text, email)."""
    if not isinstance(entry, Mapping):
        return ""
    element = next((v for v in entry.values() if isinstance(v, Mapping)), None)
    if element is None:
        return ""
    option = element.get("selected_option")
    if isinstance(option, Mapping):
        value = option.get("value")
    elif "selected_date" in element:
        value = element.get("selected_date")
    else:
        value = element.get("value")
    return value if isinstance(value, str) else ""


def read_catalog_form(view: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The item named in the form and the answers given, by field name (blank ones left out).

    Only the blocks the modal was built with are read; a form without an item is refused.
    """
    item = form_metadata(view).get("item", "").strip()
    if not item:
        raise FormError({"item": "This form no longer names a catalog item."})
    state = view.get("state")
    values = state.get("values") if isinstance(state, Mapping) else None
    values = values if isinstance(values, Mapping) else {}
    answers: dict[str, str] = {}
    for bid, entry in values.items():
        if not isinstance(bid, str) or not bid.startswith(_BLOCK):
            continue
        value = _field_value(entry).strip()
        if value:
            answers[bid.removeprefix(_BLOCK)] = value
    return item, answers


def field_errors(errors: Mapping[str, str], shown: Sequence[str]) -> dict[str, str]:
    """The rules' errors keyed by the blocks Slack shows them under.

    An error about a field the modal does not show (a form changed since it was opened)
    goes under the first field, so the person still sees it.
    """
    out: dict[str, str] = {}
    for name, message in errors.items():
        key = block_id(name) if name in shown else (block_id(shown[0]) if shown else name)
        out[key] = f"{out[key]} {message}" if key in out else message
    return out


def shown_fields(view: Mapping[str, Any]) -> list[str]:
    """The field names of the modal's input blocks, in order."""
    blocks = view.get("blocks")
    return [
        str(b["block_id"]).removeprefix(_BLOCK)
        for b in (blocks if isinstance(blocks, list) else [])
        if isinstance(b, Mapping) and str(b.get("block_id", "")).startswith(_BLOCK)
    ]


def submitted_order(body: Mapping[str, Any], item: str, answers: Mapping[str, str]) -> Action:
    """A checked catalog form as the action the worker places the order from (in the DM)."""
    view = body.get("view")
    view_id = view.get("id") if isinstance(view, Mapping) else None
    if not isinstance(view_id, str) or not view_id:
        raise PayloadError("view_submission without a view id", platform=PLATFORM)
    user, team = clicker(body)
    return Action(
        event_id=f"form:{view_id}",
        address=Address(channel=PLATFORM, workspace=team, conversation=user, user=user),
        sender=Identity(platform=PLATFORM, external_id=user),
        name=SUBMITTED,
        value=item,
        params={"item": item, "answers": json.dumps(dict(answers))},
    )
