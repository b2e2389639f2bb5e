"""The catalog modal: built from an item's fields, and read back whatever the element."""

from __future__ import annotations

import json

import pytest

from channels.catalog_forms import CatalogField, CatalogForm
from channels.slack.forms import FormError
from channels.slack.forms_catalog import (
    catalog_modal,
    field_errors,
    read_catalog_form,
    shown_fields,
)

FORM = CatalogForm(
    item="New laptop",
    description="A laptop for work.\nMore text.",
    fields=(
        CatalogField(name="model", label="Which model", type="choice", choices=("14", "16")),
        CatalogField(name="needed_by", label="Needed by", type="date"),
        CatalogField(name="contact", label="Contact", type="email", required=False),
        CatalogField(name="why", label="Why", required=False),
    ),
)


def test_each_field_type_gets_its_element() -> None:
    view = catalog_modal(FORM, meta={"channel": "D0ALICE"})
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert [e["element"]["type"] for e in inputs.values()] == [
        "static_select",
        "datepicker",
        "email_text_input",
        "plain_text_input",
    ]
    assert [e["optional"] for e in inputs.values()] == [False, False, True, True]
    assert json.loads(view["private_metadata"]) == {"channel": "D0ALICE", "item": "New laptop"}
    assert shown_fields(view) == ["model", "needed_by", "contact", "why"]


def test_answers_are_read_by_field_and_blanks_left_out() -> None:
    view = catalog_modal(FORM)
    view["state"] = {
        "values": {
            "field_model": {"field_model": {"selected_option": {"value": "16"}}},
            "field_needed_by": {"field_needed_by": {"selected_date": "2026-12-24"}},
            "field_contact": {"field_contact": {"value": "a@example.com"}},
            "field_why": {"field_why": {"value": "   "}},
            "other": {"x": {"value": "ignored"}},
        }
    }
    item, answers = read_catalog_form(view)
    assert item == "New laptop"
    assert answers == {"model": "16", "needed_by": "2026-12-24", "contact": "a@example.com"}


def test_a_form_without_an_item_is_refused() -> None:
    with pytest.raises(FormError):
        read_catalog_form({"private_metadata": "{}", "state": {"values": {}}})


def test_errors_go_under_their_fields_or_the_first_one() -> None:
    errors = field_errors({"model": "Pick one.", "gone": "not a field"}, ["model", "why"])
    assert errors == {"field_model": "Pick one. not a field"}
