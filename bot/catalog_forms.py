"""The catalog as channels with forms of their own see it (`channels.catalog_forms`).

An item's fields come from the store, and submitted answers are checked by the catalog's
own rules (`handlers.rules.catalog_form`), so a Slack modal refuses exactly what chat, the
portal and the REST API refuse. Who may order the item is decided when the order is placed.
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.catalog_forms import CatalogField, CatalogForm
from handlers.rules import catalog_form as rules
from store.db import SessionFactory
from store.uow import UnitOfWork


class StoredCatalogForms:
    """`CatalogForms` read from the database, one short read per question."""

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory

    async def _fields(self, item: str) -> tuple[str, str, list[rules.FormField]] | None:
        async with UnitOfWork(self._factory) as uow:
            found = await uow.catalog.find(item)
            if found is None:
                return None
            return found.name, found.description or "", rules.fields_of(found.fields or ())

    async def form(self, item: str) -> CatalogForm | None:
        """The form of the item named `item` (name or alias); None when there is none."""
        found = await self._fields(item)
        if found is None:
            return None
        name, description, fields = found
        return CatalogForm(
            item=name,
            description=description,
            fields=tuple(
                CatalogField(
                    name=f.name,
                    label=f.label,
                    type=f.type.value,
                    required=f.required,
                    choices=f.choices,
                )
                for f in fields
            ),
        )

    async def check(self, item: str, answers: Mapping[str, str]) -> Mapping[str, str]:
        """What is wrong with `answers`, by field name; an item gone meanwhile is one error."""
        found = await self._fields(item)
        if found is None:
            return {"item": "That item is no longer in the catalog."}
        _values, errors = rules.check_all(found[2], answers)
        return errors
