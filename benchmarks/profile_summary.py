"""Where a sampling profile's CPU went, by library: `python -m benchmarks.profile_summary FILE`.

FILE is py-spy's raw (collapsed) output, one `frame;frame;... count` line per stack, as
written by `py-spy record --gil --format raw`. Each sample is charged to the innermost frame
that belongs to a known library or one of our packages (the standard library and asyncio
are looked through, so time in `json.dumps` called by the outbox counts for the caller);
the database layer is SQLAlchemy, the driver and `store/` together.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

# First path component of a frame's file -> the group it is charged to.
GROUPS = {
    "sqlalchemy": "SQLAlchemy",
    "aiosqlite": "database driver",
    "asyncpg": "database driver",
    "sqlite3": "database driver",
    "store": "store (ours)",
    "spacy": "NLU",
    "thinc": "NLU",
    "numpy": "NLU",
    "sklearn": "NLU",
    "nlu": "NLU",
    "handlers": "handlers",
    "bot": "bot (worker, router, ingress)",
    "channels": "channels",
    "uvicorn": "HTTP",
    "starlette": "HTTP",
    "fastapi": "HTTP",
    "h11": "HTTP",
    "httptools": "HTTP",
    "httpx": "HTTP",
    "httpcore": "HTTP",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic",
    "structlog": "logging",
    "redis": "Redis client",
}
DATABASE = ("SQLAlchemy", "database driver", "store (ours)")
_FRAME = re.compile(r"\((?:<[^>]*>|[^:()]*?)(?P<path>[^():]+?):\d+\)$")


def _group(frame: str) -> str | None:
    if "sqlalchemy generated" in frame:
        return "SQLAlchemy"
    m = _FRAME.search(frame)
    if m is None:
        return None
    path = m.group("path")
    for part in reversed(path.split("site-packages/")[-1:]):
        head = part.lstrip("/").split("/", 1)[0]
        return GROUPS.get(head.removesuffix(".py"))
    return None


def _stacks(lines: Iterable[str]) -> Iterator[tuple[list[str], int]]:
    """Each sample line's frames (outermost first) and count; other lines are skipped."""
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def summarise(lines: list[str]) -> tuple[int, Counter[str]]:
    """Total samples and samples per group (innermost known frame wins)."""
    totals: Counter[str] = Counter()
    samples = 0
    for frames, n in _stacks(lines):
        samples += n
        group = "other"
        for frame in reversed(frames):
            found = _group(frame)
            if found is not None:
                group = found
                break
        totals[group] += n
    return samples, totals


_LINE = re.compile(r":\d+\)$")


def hottest(lines: list[str], n: int = 10) -> list[tuple[str, int]]:
    """The `n` functions most samples ended in (their own time), with their sample counts.

    A function is named as py-spy names its frame, without the line (so all of a function's
    lines count together) and without the path up to `site-packages/`.
    """
    own: Counter[str] = Counter()
    for frames, count in _stacks(lines):
        frame = _LINE.sub(")", frames[-1])
        head, sep, path = frame.partition(" (")
        if sep:
            frame = f"{head} ({path.split('site-packages/')[-1]}"
        own[frame] += count
    return own.most_common(n)


def main(argv: list[str]) -> int:
    """Print the share of the samples per group and for the database layer; the exit status."""
    if len(argv) != 1:
        print("usage: python -m benchmarks.profile_summary PY_SPY_RAW_FILE", file=sys.stderr)
        return 2
    samples, totals = summarise(Path(argv[0]).read_text().splitlines())
    if not samples:
        print("no samples", file=sys.stderr)
        return 1
    for group, n in totals.most_common():
        print(f"{group:32} {n / samples:6.1%}  ({n})")
    db = sum(totals[g] for g in DATABASE)
    print(f"{'database layer (SQLAlchemy+driver+store)':32} {db / samples:6.1%}  of {samples}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
