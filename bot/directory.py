"""The people directory file (YAML or CSV) and importing it.

YAML::

    people:
      - {name: Alice Example, email: alice@example.com, roles: [requester],
         identities: {slack: U0ALICE, phone: "+14155550101"}}

CSV: columns `name,email,roles,groups,skills,slack,telegram,phone,x`; lists inside a cell
are separated by `;` or `|`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from channels.phones import to_e164
from store.enums import Role
from store.uow import UnitOfWork

PLATFORMS = ("slack", "telegram", "phone", "x")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class DirectoryError(ValueError):
    """The file cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PersonRecord:
    name: str
    email: str
    roles: tuple[Role, ...] = (Role.REQUESTER,)
    groups: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    identities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportResult:
    created: int
    updated: int
    identities: int


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v.strip() for v in re.split(r"[;|,]", value) if v.strip()]
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    raise DirectoryError(f"expected a list, got {type(value).__name__}")


def record(data: Any, where: str) -> PersonRecord:
    """One validated person; `where` names the entry in error messages."""
    if not isinstance(data, dict):
        raise DirectoryError(f"{where}: each person must be a mapping")
    name = str(data.get("name") or "").strip()
    email = str(data.get("email") or "").strip().lower()
    if not name:
        raise DirectoryError(f"{where}: `name` is required")
    if not _EMAIL.match(email):
        raise DirectoryError(f"{where}: `email` {email!r} is not an email address")
    try:
        roles = tuple(Role(r.lower()) for r in _list(data.get("roles"))) or (Role.REQUESTER,)
    except ValueError as e:
        allowed = ", ".join(r.value for r in Role)
        raise DirectoryError(f"{where}: unknown role ({e}); use {allowed}") from e
    raw_ids = data.get("identities") or {}
    if not isinstance(raw_ids, dict):
        raise DirectoryError(f"{where}: `identities` must be a mapping")
    for platform in PLATFORMS:
        if data.get(platform):
            raw_ids.setdefault(platform, data[platform])
    identities: dict[str, str] = {}
    for platform, value in raw_ids.items():
        if platform not in PLATFORMS:
            raise DirectoryError(
                f"{where}: unknown identity {platform!r}; use {', '.join(PLATFORMS)}"
            )
        text = str(value).strip()
        if platform == "phone":
            number = to_e164(text)
            if number is None:
                raise DirectoryError(
                    f"{where}: phone must be a dialable number in E.164 form, like +14155550101"
                )
            text = number
        if text:
            identities[platform] = text
    return PersonRecord(
        name=name,
        email=email,
        roles=roles,
        groups=tuple(_list(data.get("groups"))),
        skills=tuple(_list(data.get("skills"))),
        identities=identities,
    )


def parse(text: str, *, fmt: str) -> list[PersonRecord]:
    """Records from YAML (`fmt="yaml"`) or CSV (`fmt="csv"`) text."""
    if fmt == "yaml":
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise DirectoryError(f"not valid YAML: {e}") from e
        people = doc.get("people") if isinstance(doc, dict) else doc
        if not isinstance(people, list):
            raise DirectoryError("expected a top-level `people:` list")
        records = [record(p, f"person {i}") for i, p in enumerate(people, start=1)]
    elif fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "email" not in reader.fieldnames:
            raise DirectoryError("CSV needs a header row with at least `name` and `email`")
        records = [record(row, f"line {i}") for i, row in enumerate(reader, start=2)]
    else:
        raise DirectoryError(f"unknown format {fmt!r}; use yaml or csv")
    _unique(records)
    return records


def _unique(records: Sequence[PersonRecord]) -> None:
    seen: dict[str, str] = {}
    for r in records:
        if r.email in seen:
            raise DirectoryError(f"{r.email} appears twice")
        seen[r.email] = r.email
        for platform, value in r.identities.items():
            key = f"{platform}:{value}"
            if key in seen:
                raise DirectoryError(f"{platform} identity {value} is given to two people")
            seen[key] = r.email


def read(path: Path) -> list[PersonRecord]:
    fmt = "csv" if path.suffix.lower() == ".csv" else "yaml"
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise DirectoryError(f"cannot read {path}: {e.strerror}") from e
    return parse(text, fmt=fmt)


async def import_people(uow: UnitOfWork, records: Iterable[PersonRecord]) -> ImportResult:
    """Create or update people by email; identities move to the person the file names."""
    created = updated = bound = 0
    for r in records:
        person = await uow.people.by_email(r.email)
        if person is None:
            person = await uow.people.create(name=r.name, email=r.email, roles=r.roles)
            created += 1
        else:
            updated += 1
        await uow.people.set_profile(
            person, name=r.name, roles=r.roles, groups=r.groups, skills=r.skills
        )
        for platform, external_id in r.identities.items():
            ident = await uow.people.identity(platform, external_id)
            if ident is not None and ident.person_id == person.id:
                continue
            if ident is not None:
                await uow.people.unbind_identity(platform, external_id)
            await uow.people.bind_identity(person, platform, external_id)
            bound += 1
    return ImportResult(created=created, updated=updated, identities=bound)
