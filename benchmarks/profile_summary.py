"""Where a sampling profile's CPU went, by library: `python -m benchmarks.profile_summary FILE`.

FILE is py-spy's raw (collapsed) output, one `frame;frame;... count` line per stack, as
written by `py-spy record --gil --format raw`. Each sample is charged to the innermost frame
that belongs to a known library or one of our packages (the standard library and asyncio
are looked through, so time in `json.dumps` called by the outbox counts for the caller);
the database layer is SQLAlchemy, the driver and `store/` together.

The database layer's samples are also told apart by the kind of work they ended in
(`database_kinds`): what the database and its driver did, values converted to and from the
database's types, mapped objects and the session, statements built and run, and the store's
own logic. Which of those a change can remove decides how far it can take the layer's share.
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


def _charged(frames: list[str]) -> tuple[str, str]:
    """The group a sample is charged to and the frame that decided it (innermost known)."""
    for frame in reversed(frames):
        found = _group(frame)
        if found is not None:
            return found, frame
    return "other", frames[-1]


def summarise(lines: list[str]) -> tuple[int, Counter[str]]:
    """Total samples and samples per group (innermost known frame wins)."""
    totals: Counter[str] = Counter()
    samples = 0
    for frames, n in _stacks(lines):
        samples += n
        totals[_charged(frames)[0]] += n
    return samples, totals


_LINE = re.compile(r":\d+\)$")


def _named(frame: str) -> tuple[str, str]:
    """A frame's function and its path from the package on, without the line."""
    function, _, where = _LINE.sub(")", frame).partition(" (")
    return function, where.removesuffix(")").split("site-packages/")[-1]


DRIVER_WORK = "the database and its driver"
CONVERSION = "values to and from the database's types"
MAPPED = "mapped objects and the session"
STATEMENTS = "statements built, cached and run"
STORE_LOGIC = "the store's own logic"
KINDS = (DRIVER_WORK, CONVERSION, MAPPED, STATEMENTS, STORE_LOGIC)
THROUGH_ORM = "of these, the ORM's (objects, session, its statements)"
_ORM_FRAME = "sqlalchemy/orm/"
# Functions whose own samples are the C driver at work: py-spy shows a call into C as the
# Python line that made it.
_DRIVER_CALLS = frozenset(
    {
        "_sqlite_fetch",
        "_begin_at_once",
        "InlineCursor.execute",
        "InlineCursor.executemany",
        "InlineConnection._execute",
        "DefaultDialect.do_execute",
        "DefaultDialect.do_executemany",
        "DefaultDialect.do_execute_no_params",
        "DefaultDialect.do_commit",
        "DefaultDialect.do_rollback",
        "DefaultDialect.do_begin",
    }
)
_CONVERTING = ("sqlalchemy/sql/sqltypes.py", "store/types.py")
_MAPPING = ("sqlalchemy/orm/", "store/hotpath.py", "store/config_memo.py", "store/uow.py")
_STATEMENTS = ("sqlalchemy/", "store/direct.py")


def _kind(frame: str, group: str) -> str:
    """The kind of database work a sample ending in `frame` (of `group`) was doing."""
    if group == "database driver":
        return DRIVER_WORK
    function, path = _named(frame)
    if function in _DRIVER_CALLS:
        return DRIVER_WORK
    if function == "utcnow":
        return STORE_LOGIC  # the clock, kept beside the column types
    if path.endswith(_CONVERTING) or "bind_processor" in function or "result_processor" in function:
        return CONVERSION
    if path.startswith(_MAPPING):
        return MAPPED
    if path.startswith(_STATEMENTS) or "sqlalchemy generated" in frame:
        return STATEMENTS
    return STORE_LOGIC


def database_kinds(lines: Iterable[str]) -> Counter[str]:
    """The database layer's samples by the kind of work they ended in (`KINDS`).

    A sample counts where `summarise` charges it: at its innermost frame of a known group,
    when that group is the database layer's. `THROUGH_ORM` counts, besides, the layer's
    samples that a hot path without the ORM would not have: the mapped objects' and the
    session's own, and the statements and values the session ran for them.
    """
    kinds: Counter[str] = Counter()
    for frames, n in _stacks(lines):
        group, frame = _charged(frames)
        if group in DATABASE:
            kind = _kind(frame, group)
            kinds[kind] += n
            if kind == MAPPED or any(_ORM_FRAME in f for f in frames):
                kinds[THROUGH_ORM] += n
    return kinds


def hottest(lines: list[str], n: int = 10) -> list[tuple[str, int]]:
    """The `n` functions most samples ended in (their own time), with their sample counts.

    A function is named as py-spy names its frame, without the line (so all of a function's
    lines count together) and without the path up to `site-packages/`.
    """
    own: Counter[str] = Counter()
    for frames, count in _stacks(lines):
        function, path = _named(frames[-1])
        own[f"{function} ({path})" if path else function] += count
    return own.most_common(n)


def main(argv: list[str]) -> int:
    """Print the share of the samples per group and for the database layer; the exit status."""
    if len(argv) != 1:
        print("usage: python -m benchmarks.profile_summary PY_SPY_RAW_FILE", file=sys.stderr)
        return 2
    lines = Path(argv[0]).read_text().splitlines()
    samples, totals = summarise(lines)
    if not samples:
        print("no samples", file=sys.stderr)
        return 1
    for group, n in totals.most_common():
        print(f"{group:32} {n / samples:6.1%}  ({n})")
    db = sum(totals[g] for g in DATABASE)
    print(f"{'database layer (SQLAlchemy+driver+store)':32} {db / samples:6.1%}  of {samples}")
    kinds = database_kinds(lines)
    for kind in (*KINDS, THROUGH_ORM):
        print(f"  {kind:40} {kinds[kind] / samples:6.1%}  ({kinds[kind]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
