"""Reading desk files: YAML with a key per section, or CSV of people or of services.

Every problem is collected, not just the first, and each names its file, entry and field.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.desk.fields import Entry
from bot.desk.schema import LATER, SECTIONS, SETTINGS, describe, key_of, slack_channel_ids
from bot.directory import DirectoryError, rows


class DeskError(ValueError):
    """The files cannot be imported; `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Item:
    """One validated entry and where it came from."""

    file: str
    section: str
    index: int
    entry: Entry

    @property
    def key(self) -> str:
        """The natural key the entry is upserted by: email for people, else the name."""
        return key_of(self.section, self.entry)

    @property
    def where(self) -> str:
        """Where the entry is, as messages name it (`desk.yml: groups #2 (network)`)."""
        return place(self.file, self.section, self.index, self.label)

    @property
    def label(self) -> str:
        """The entry's email or name, to tell it apart in a message; empty without either."""
        return str(getattr(self.entry, "email", None) or getattr(self.entry, "name", ""))


def place(file: str, section: str, index: int, label: str = "") -> str:
    """`desk.yml: groups #2 (network)`: how every message names an entry."""
    named = f" ({label})" if label else ""
    return f"{file}: {section} #{index}{named}"


@dataclass
class Desk:
    """Everything read from the files, by section, plus warnings about what was left alone."""

    items: dict[str, list[Item]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    warnings: list[str] = field(default_factory=list)
    help_channels: list[str] | None = None
    """`slack_help_channels` when a file gives it (replacing the stored list), else None."""

    def entries(self, section: str) -> Iterator[Any]:
        """The validated entries of one section, in file order."""
        return (i.entry for i in self.items[section])

    def items_of_cmdb(self) -> list[Item]:
        """`services:` and `configuration_items:` entries: one configuration database."""
        return [*self.items["services"], *self.items["configuration_items"]]

    def count(self) -> int:
        """How many entries were read, over all sections."""
        return sum(len(v) for v in self.items.values())


def _label(raw: Any) -> str:
    if isinstance(raw, dict):
        return str(raw.get("email") or raw.get("name") or "")
    return ""


def _section(
    desk: Desk, problems: list[str], file: str, section: str, raw: Any, start: int = 1
) -> None:
    if raw is None:
        return
    if not isinstance(raw, list):
        problems.append(f"{file}: `{section}` must be a list of entries")
        return
    model = SECTIONS[section]
    for index, data in enumerate(raw, start=start):
        where = place(file, section, index, _label(data))
        if not isinstance(data, dict):
            problems.append(f"{where}: each entry must be a mapping")
            continue
        try:
            entry = model.model_validate(data)
        except ValidationError as e:
            problems.extend(f"{where}: {line}" for line in describe(e))
            continue
        desk.items[section].append(Item(file, section, index, entry))


def _csv_section(path: Path, header: list[str]) -> str:
    stem = path.stem.lower()
    if "service" in stem:
        return "services"
    if any(w in stem for w in ("people", "person", "directory", "staff")):
        return "people"
    return "people" if "email" in header else "services"


def read_one(path: Path, desk: Desk, problems: list[str]) -> None:
    """Add one file's entries to `desk`; problems go to `problems`."""
    file = str(path)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{file}: cannot read it ({e})")
        return
    if path.suffix.lower() == ".csv":
        header = text.splitlines()[0].split(",") if text.strip() else []
        section = _csv_section(path, [h.strip() for h in header])
        if section == "people":
            try:
                found = rows(text)
            except DirectoryError as e:
                problems.append(f"{file}: {e}")
                return
        else:
            reader = csv.DictReader(io.StringIO(text))
            if not reader.fieldnames or "name" not in reader.fieldnames:
                problems.append(f"{file}: CSV of services needs a header row with `name`")
                return
            found = [{k: v for k, v in r.items() if k and v not in (None, "")} for r in reader]
        # CSV entries are numbered by line, the header being line 1.
        _section(desk, problems, file, section, found, start=2)
        return
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        problems.append(f"{file}: not valid YAML: {e}")
        return
    if doc is None:
        desk.warnings.append(f"{file}: the file is empty")
        return
    if not isinstance(doc, dict):
        problems.append(f"{file}: expected a mapping with keys like `people:` and `groups:`")
        return
    for key, raw in doc.items():
        if key in SECTIONS:
            _section(desk, problems, file, key, raw)
        elif key == "slack_help_channels":
            ids, wrong = slack_channel_ids(raw)
            problems.extend(f"{file}: {w}" for w in wrong)
            desk.help_channels = [*(desk.help_channels or []), *ids]
        elif key in LATER:
            desk.warnings.append(f"{file}: `{key}` is not applied by this import; left as it is")
        else:
            known = ", ".join([*SECTIONS, *LATER, *SETTINGS])
            problems.append(f"{file}: unknown key `{key}`; use {known}")


def read(paths: Iterable[Path]) -> Desk:
    """Read and validate every file; a DeskError lists every problem found."""
    desk = Desk()
    problems: list[str] = []
    for path in paths:
        read_one(path, desk, problems)
    for items in desk.items.values():
        seen: dict[str, Item] = {}
        for item in items:
            first = seen.setdefault(item.key, item)
            if first is not item:
                problems.append(f"{item.where}: already given at {first.where}")
    problems.extend(help_channel_clashes(desk))
    if problems:
        raise DeskError(problems)
    return desk


def help_channel_clashes(desk: Desk) -> list[str]:
    """Groups whose own Slack channel (for cards with buttons) is also listed as a help channel."""
    help = set(desk.help_channels or ())
    clashes = []
    for item in desk.items["groups"]:
        channel = getattr(item.entry, "slack_channel", None)
        if channel in help:
            clashes.append(
                f"{item.where}: slack_channel {channel} is one of slack_help_channels; "
                "a group's channel for cards cannot be a help channel"
            )
    return clashes
