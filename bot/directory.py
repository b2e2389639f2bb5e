"""The people directory file (YAML or CSV) and importing it.

YAML::

    people:
      - {name: Alice Example, email: alice@example.com, roles: [requester],
         identities: {slack: U0ALICE, phone: "+14155550101"},
         manager: bob@example.com, language: en, organisation: Acme, devices: [LT-0042]}

CSV: columns `name,email,roles,groups,skills,slack,telegram,phone,x,manager,language,
organisation,devices`; lists inside a cell are separated by `;` or `|`.

Every entry is a `bot.desk.schema.PersonEntry`, the same model the desk file's `people:` uses.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.desk.schema import PLATFORMS, PersonEntry, describe
from store.models import Person
from store.uow import UnitOfWork

__all__ = [
    "PLATFORMS",
    "DirectoryError",
    "ImportResult",
    "PersonRecord",
    "import_people",
    "parse",
    "read",
    "record",
]

PersonRecord = PersonEntry
"""One person of the directory (the name the demo data and older callers use)."""


class DirectoryError(ValueError):
    """The file cannot be imported; the message says where and why."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: people created and updated, channel identities written."""

    created: int
    updated: int
    identities: int


def record(data: Any, where: str) -> PersonRecord:
    """One validated person; `where` names the entry in error messages."""
    if not isinstance(data, dict):
        raise DirectoryError(f"{where}: each person must be a mapping")
    try:
        return PersonEntry.model_validate(data)
    except ValidationError as e:
        raise DirectoryError(f"{where}: " + "; ".join(describe(e))) from e


def rows(text: str) -> list[dict[str, Any]]:
    """CSV rows as mappings, without the cells left empty."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "email" not in reader.fieldnames:
        raise DirectoryError("CSV needs a header row with at least `name` and `email`")
    return [{k: v for k, v in row.items() if k and v not in (None, "")} for row in reader]


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
        records = [record(row, f"line {i}") for i, row in enumerate(rows(text), start=2)]
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
    """The people in a YAML or CSV file (by its suffix), validated."""
    fmt = "csv" if path.suffix.lower() == ".csv" else "yaml"
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise DirectoryError(f"cannot read {path}: {e.strerror}") from e
    return parse(text, fmt=fmt)


async def import_people(uow: UnitOfWork, records: Iterable[PersonRecord]) -> ImportResult:
    """Create or update people by email; identities move to the person the file names.

    A manager must be in the directory already or among the records; otherwise nothing of
    the unit of work should be committed.
    """
    created = updated = bound = 0
    people: list[tuple[PersonRecord, Person]] = []
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
        person.language = r.language
        person.organisation = r.organisation
        person.devices = list(r.devices)
        people.append((r, person))
        for platform, external_id in r.identities.items():
            ident = await uow.people.identity(platform, external_id)
            if ident is not None and ident.person_id == person.id:
                continue
            if ident is not None:
                await uow.people.unbind_identity(platform, external_id)
            await uow.people.bind_identity(person, platform, external_id)
            bound += 1
    # Managers last: a manager may appear later in the file than the people they manage.
    for r, person in people:
        manager = await uow.people.by_email(r.manager) if r.manager else None
        if r.manager and manager is None:
            raise DirectoryError(f"{r.email}: manager {r.manager} is not in the directory")
        person.manager_id = manager.id if manager else None
    return ImportResult(created=created, updated=updated, identities=bound)
