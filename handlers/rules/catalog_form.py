"""A catalog item's form: its fields, what an answer must look like, who may order the item.

The same rules check an answer typed in chat, a field posted to the API and (through the desk
schema) a form definition, so a form means one thing wherever it is filled in.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from handlers.errors import ExplainedError, Local, Said
from store.enums import Role

FIELD_TYPES = ("text", "choice", "date", "email", "person", "ci")
APPROVALS = ("none", "manager", "group")
MAX_TEXT = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SKIP_WORDS = frozenset({"skip", "none", "-", "n/a", "nothing", "跳过", "无"})


class FieldType(StrEnum):
    """The kinds of answer a field takes; each is checked its own way."""

    TEXT = "text"
    CHOICE = "choice"
    DATE = "date"
    EMAIL = "email"
    PERSON = "person"
    CI = "ci"


@dataclass(frozen=True, slots=True)
class FormField:
    """One question of a form."""

    name: str
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = True
    choices: tuple[str, ...] = ()
    # The label in Chinese (`label_zh` in the desk file); the label serves when there is none.
    label_zh: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FormField:
        """A field from its stored form; the label defaults to the name, the type to text."""
        return cls(
            name=str(data["name"]),
            label=str(data.get("label") or data["name"]),
            type=FieldType(str(data.get("type") or "text")),
            required=bool(data.get("required", True)),
            choices=tuple(str(c) for c in data.get("choices") or ()),
            label_zh=str(data["label_zh"]) if data.get("label_zh") else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The field as stored in a catalog item's form definition."""
        data: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type.value,
            "required": self.required,
            "choices": list(self.choices),
        }
        if self.label_zh:
            data["label_zh"] = self.label_zh
        return data

    @property
    def named(self) -> Local:
        """The label in every language the desk file gives it."""
        return Local(self.label, self.label_zh)

    def label_in(self, lang: str) -> str:
        """The field's label in `lang`, English when it has no translation."""
        return self.label_zh if lang == "zh" and self.label_zh else self.label

    @property
    def question(self) -> str:
        """How the bot asks for it in chat."""
        return self.question_in("en")

    def question_in(self, lang: str) -> str:
        """How the bot asks for it in chat, in `lang`."""
        ask = Said("form.ask", label=self.named).text(lang)
        if self.type is FieldType.CHOICE:
            ask += " " + "  ".join(f"{i}) {c}" for i, c in enumerate(self.choices, start=1))
        elif self.type in (FieldType.DATE, FieldType.PERSON, FieldType.CI):
            ask += Said(f"form.hint.{self.type.value}").text(lang)
        if not self.required:
            ask += Said("form.hint.optional").text(lang)
        return ask


class AnswerError(ExplainedError, ValueError):
    """An answer that does not fit its field; the message says why, for the person."""


def fields_of(raw: Iterable[Mapping[str, Any]]) -> list[FormField]:
    """The fields of a stored form definition (a catalog item's `fields`)."""
    return [FormField.from_dict(f) for f in raw]


def definition_problems(fields: Sequence[Mapping[str, Any]]) -> list[str]:
    """What is wrong with a form definition, `field: message` each; empty when it is fine."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, f in enumerate(fields):
        name = str(f.get("name") or "")
        where = f"fields.{i}"
        if not _NAME.match(name):
            problems.append(
                f"`{where}.name`: {name!r} must be lower-case letters, digits and _ "
                "(starting with a letter)"
            )
        elif name in seen:
            problems.append(f"`{where}.name`: {name!r} is given twice")
        seen.add(name)
        kind = str(f.get("type") or "text")
        if kind not in FIELD_TYPES:
            problems.append(f"`{where}.type`: unknown type {kind!r}; use {', '.join(FIELD_TYPES)}")
        choices = list(f.get("choices") or ())
        if kind == "choice" and len(choices) < 2:
            problems.append(f"`{where}.choices`: a choice field needs at least two choices")
        if kind != "choice" and choices:
            problems.append(f"`{where}.choices`: only a choice field has choices")
    return problems


def check(field: FormField, raw: str) -> str:
    """The stored value of an answer; `AnswerError` with the reason when it does not fit.

    An optional field left out ("skip") is the empty string.
    """
    if "\x00" in raw:
        # Text the database cannot store (PostgreSQL refuses NUL) is refused here instead.
        raise AnswerError(Said("form.refused.nul", label=field.named))
    text = " ".join(str(raw).split())
    if not text or text.casefold() in SKIP_WORDS:
        if field.required:
            raise AnswerError(Said("form.refused.required", label=field.named))
        return ""
    if field.type in (FieldType.TEXT, FieldType.PERSON, FieldType.CI):
        # A person or a CI is looked up in the directory or CMDB by the handler
        # (`handlers.catalog.known`); here it is text like any other.
        if len(text) > MAX_TEXT:
            raise AnswerError(Said("form.refused.too_long", label=field.named, most=MAX_TEXT))
        return text
    if field.type is FieldType.EMAIL:
        if not _EMAIL.match(text):
            raise AnswerError(Said("form.refused.email", text=repr(text)))
        return text.lower()
    if field.type is FieldType.DATE:
        return _date(field, text).isoformat()
    return _choice(field, text)


def _date(field: FormField, text: str) -> date:
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AnswerError(Said("form.refused.date", label=field.named)) from None


def _choice(field: FormField, text: str) -> str:
    said = text.casefold().rstrip(".!")
    for i, choice in enumerate(field.choices, start=1):
        if said in (choice.casefold(), str(i)):
            return choice
    raise AnswerError(
        Said("form.refused.choice", label=field.named, choices=", ".join(field.choices))
    )


def check_all(
    fields: Sequence[FormField], answers: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Every answer checked: the stored values, and the errors by field name."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    known = {f.name for f in fields}
    for name in answers:
        if name not in known:
            errors[str(name)] = "not a field of this form"
    for f in fields:
        raw = answers.get(f.name)
        if raw is None:
            if f.required:
                errors[f.name] = f"{f.label} is required."
            continue
        if not isinstance(raw, str):
            errors[f.name] = "must be text"
            continue
        try:
            values[f.name] = check(f, raw)
        except AnswerError as e:
            errors[f.name] = str(e)
    return values, errors


def next_field(fields: Sequence[FormField], answers: Mapping[str, str]) -> FormField | None:
    """The first question not answered yet."""
    return next((f for f in fields if f.name not in answers), None)


def may_order(
    *,
    roles: Collection[Role],
    organisation: str | None,
    allowed_roles: Collection[str],
    allowed_organisations: Collection[str],
) -> bool:
    """Whether a person may order an item: an empty list allows everyone; admins always may."""
    if Role.ADMIN in roles:
        return True
    if allowed_roles and not any(r.value in allowed_roles for r in roles):
        return False
    if allowed_organisations:
        orgs = {o.casefold() for o in allowed_organisations}
        return organisation is not None and organisation.casefold() in orgs
    return True
