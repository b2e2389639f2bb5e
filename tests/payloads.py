"""Real platform payloads, read byte for byte.

`tests/data/payloads/` holds them with `SOURCES.md` naming where each came from (SDK test
suites and platform documentation); `SWITCHBOARD_PAYLOADS` points elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(os.environ.get("SWITCHBOARD_PAYLOADS", Path(__file__).parent / "data" / "payloads"))


def path(platform: str, name: str) -> Path:
    p = ROOT / platform / name
    if not p.exists():
        raise FileNotFoundError(f"{p} (set SWITCHBOARD_PAYLOADS to the payloads folder)")
    return p


def raw(platform: str, name: str) -> bytes:
    """The file's exact bytes."""
    return path(platform, name).read_bytes()


def load(platform: str, name: str) -> Any:
    return json.loads(raw(platform, name))
