"""What importing the desk did, entry by entry: one `Change` each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """What importing one entry did (or, in a dry run, would do)."""

    section: str
    name: str
    action: str
    fields: tuple[str, ...] = ()


def change_of(section: str, name: str, changed: list[str]) -> Change:
    """A `Change` from the fields an upsert changed (`created` for a new row)."""
    if "created" in changed:
        return Change(section, name, "create")
    if changed:
        return Change(section, name, "update", tuple(dict.fromkeys(changed)))
    return Change(section, name, "unchanged")
