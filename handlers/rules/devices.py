"""Which of a person's devices a report is about: "my laptop won't boot" names a kind.

Pure: the handler looks the devices up and hands their names, types and attributes here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# Words people use for end-user hardware, by the kind they mean.
_KINDS: dict[str, tuple[str, ...]] = {
    "laptop": ("laptop", "notebook", "macbook", "thinkpad", "笔记本"),
    "desktop": ("desktop", "workstation", "pc", "台式机"),
    "phone": ("phone", "mobile", "iphone", "android", "smartphone", "手机"),
    "tablet": ("tablet", "ipad", "平板"),
    "monitor": ("monitor", "display", "显示器"),
    "headset": ("headset", "headphones", "耳机"),
    "dock": ("dock", "docking station", "扩展坞"),
}
_ANY = ("computer", "device", "电脑")
_LATIN = re.compile(r"[a-z]")


@dataclass(frozen=True, slots=True)
class Device:
    """A device configuration item as the rule needs it."""

    name: str
    type: str = "device"
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def words(self) -> str:
        """The name and attribute values, lower-cased, as one text to look for words in."""
        values = " ".join(str(v) for v in self.attributes.values())
        return f"{self.name} {values}".lower()


def _says(text: str, word: str) -> bool:
    if not _LATIN.search(word):
        return word in text  # Chinese has no spaces to bound a word
    return re.search(rf"\b{re.escape(word)}s?\b", text) is not None


def kinds_mentioned(text: str) -> set[str]:
    """The device kinds a message names; `"any"` for "my computer"."""
    said = text.lower()
    kinds = {kind for kind, words in _KINDS.items() if any(_says(said, w) for w in words)}
    if not kinds and any(_says(said, w) for w in _ANY):
        kinds.add("any")
    return kinds


def kind_of(device: Device) -> str | None:
    """The kind a device is, from its attributes (`kind`, `model`...) or its name."""
    words = device.words()
    for kind, names in _KINDS.items():
        if any(_says(words, w) for w in (kind, *names)):
            return kind
    return None


def pick(devices: Sequence[Device], mentioned: set[str]) -> Device | None:
    """The one device the message is about, or None when it could be more than one."""
    own = [d for d in devices if d.type == "device"]
    if not mentioned or not own:
        return None
    if "any" in mentioned:
        computers = [d for d in own if kind_of(d) in ("laptop", "desktop")]
        return computers[0] if len(computers) == 1 else (own[0] if len(own) == 1 else None)
    fitting = [d for d in own if kind_of(d) in mentioned]
    if len(fitting) == 1:
        return fitting[0]
    # One device whose kind nobody recorded: a report naming hardware is about it.
    unknown = [d for d in own if kind_of(d) is None]
    if not fitting and len(own) == 1 and unknown:
        return unknown[0]
    return None
