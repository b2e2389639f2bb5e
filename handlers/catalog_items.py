"""The catalog's items as handlers meet them: the one a message names, who may order it, its form.

Finding an item goes by the NLU's `catalog_item` entity, else by a name or alias in the text.
Answers naming a person or a CI are checked against the directory and the CMDB and kept as
they spell them; the form's own rules live in `handlers.rules.catalog_form`.
"""

from __future__ import annotations

import re
from typing import Any

from handlers.context import HandlerContext
from handlers.errors import Said
from handlers.rules import catalog_form as form
from nlu.types import EntityName, Understanding
from store.catalog import CatalogItem
from store.models import Person
from store.uow import UnitOfWork

_LIST = re.compile(
    r"\b(what can i (order|request|get)|(show|list|see)( me)? the (service )?catalog(ue)?|"
    r"catalog(ue)?)\b|可以申请什么|服务目录",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w-]+")


def asks_for_list(text: str) -> bool:
    """Whether a message asks what can be ordered ("What can I order?" and the like)."""
    return _LIST.search(text) is not None


async def item_for(nlu: Understanding, ctx: HandlerContext) -> CatalogItem | None:
    """The stored item a message names: by the NLU's entity, else a name or alias in the text."""
    for value in nlu.values(EntityName.CATALOG_ITEM):
        found = await ctx.uow.catalog.find(value)
        if found is not None:
            return found
    said = f" {_words(nlu.text)} "
    best: tuple[int, CatalogItem] | None = None
    for item in await ctx.uow.catalog.items():
        for name in (item.name, *(str(a) for a in item.aliases or ())):
            words = _words(name)
            hit = words and (f" {words} " in said or (not words.isascii() and words in said))
            if hit and (best is None or len(words) > best[0]):
                best = (len(words), item)
    return best[1] if best else None


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def item_fields(item: CatalogItem) -> list[form.FormField]:
    """The fields of an item's form, in the order they are asked."""
    return form.fields_of(item.fields or ())


def public_fields(item: CatalogItem) -> list[dict[str, Any]]:
    """The form as people filling it in see it (API, portal)."""
    return [f.to_dict() for f in item_fields(item)]


async def known(uow: UnitOfWork, field: form.FormField, value: str) -> str:
    """A person or CI answer as the directory or CMDB spells it; `AnswerError` if unknown.

    Any other answer, and an empty one (an optional field skipped), is returned as it is.
    """
    if not value or field.type not in (form.FieldType.PERSON, form.FieldType.CI):
        return value
    if field.type is form.FieldType.CI:
        ci = await uow.services.by_name(value)
        if ci is None:
            raise form.AnswerError(Said("form.refused.no_ci", value=repr(value[:80])))
        return ci.name
    person = await uow.people.by_email(value) if "@" in value else None
    if person is None:
        wanted = value.casefold()
        named = [p for p in await uow.people.everyone() if p.active and p.name.casefold() == wanted]
        person = named[0] if len(named) == 1 else None
        if len(named) > 1:
            raise form.AnswerError(Said("form.refused.several", value=repr(value[:80])))
    if person is None or not person.active:
        raise form.AnswerError(Said("form.refused.nobody", value=repr(value[:80])))
    return person.email or person.name


async def check_known(
    uow: UnitOfWork, fields: list[form.FormField], answers: dict[str, str]
) -> dict[str, str]:
    """Replace person and CI answers by their stored spelling; the reasons of those unknown."""
    errors: dict[str, str] = {}
    for f in fields:
        if not answers.get(f.name):
            continue
        try:
            answers[f.name] = await known(uow, f, answers[f.name])
        except form.AnswerError as e:
            errors[f.name] = str(e)
    return errors


def may_order(item: CatalogItem, person: Person) -> bool:
    """Whether the item's roles and organisations let this person order it."""
    return form.may_order(
        roles=person.role_set,
        organisation=person.organisation,
        allowed_roles=[str(r) for r in item.roles or ()],
        allowed_organisations=[str(o) for o in item.organisations or ()],
    )
