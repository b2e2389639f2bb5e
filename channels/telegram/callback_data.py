"""What an inline button carries: the action, the value and the card version, in 64 bytes."""

from __future__ import annotations

import re

from channels.telegram.constants import ACTION_NAME, MAX_CALLBACK_BYTES

# ASCII digits only: `str.isdigit` also says yes to "²", which `int` refuses.
_NUMBERED = re.compile(r"#([0-9]{1,3})")
_VERSION = re.compile(r"[0-9]{0,9}")


def encode_callback(action: str, value: str, index: int, version: int | None = None) -> str:
    """`action|version|value`, at most 64 bytes; else `#<index>` (the button's number)."""
    data = f"{action}|{version if version else ''}|{value}"
    if ACTION_NAME.fullmatch(action) and len(data.encode()) <= MAX_CALLBACK_BYTES:
        return data
    return f"#{index}"


def decode_callback(data: str) -> tuple[str, str, str] | int | None:
    """(action, value, version) or a button number from `callback_data`; None if not ours."""
    numbered = _NUMBERED.fullmatch(data)
    if numbered:
        return int(numbered.group(1))
    parts = data.split("|", 2)
    if len(parts) != 3:
        return None
    action, version, value = parts
    if not ACTION_NAME.fullmatch(action) or not _VERSION.fullmatch(version):
        return None
    return action, value, version
