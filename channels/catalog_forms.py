"""A catalog item's form as channels see it, and what they may ask the application about it.

Channels that show a form of their own (a Slack modal) get the fields from here and have the
answers checked by the application, with the catalog's rules, before they accept them. The
module is plain data, so importing it loads no platform SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CatalogField:
    """One question of an item's form: `type` is text, choice, date or email."""

    name: str
    label: str
    type: str = "text"
    required: bool = True
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CatalogForm:
    """An item's form: the item's name (what the order names) and its fields."""

    item: str
    fields: tuple[CatalogField, ...]
    description: str = ""


class CatalogForms(Protocol):
    """What the application tells a channel about the catalog."""

    async def form(self, item: str) -> CatalogForm | None:
        """The form of the item named `item` (name or alias); None when there is none."""
        ...

    async def check(self, item: str, answers: Mapping[str, str]) -> Mapping[str, str]:
        """What is wrong with `answers`, by field name; empty when they fit the form."""
        ...
