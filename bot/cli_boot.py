"""What `switchboard` does before it imports anything that records metrics.

With `PROMETHEUS_MULTIPROC_DIR` set, every process writes its series into files in that
directory and `/metrics` adds up all of them. Files left by an earlier run would be added in
as well (and a new process given a dead one's pid would carry on from its counts), so the
directory is emptied when a serving role starts: `serve`, or the parent of `web`'s uvicorn
workers, before any of them opens a file. Only standard-library imports here: the metric
modules must not be loaded yet. The worker role never empties it: a worker on the same
host as a web process would wipe the web's live files (give workers their own directory).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
SERVING_COMMANDS = frozenset({"serve", "web"})


def empty_multiprocess_dir(environ: Mapping[str, str], argv: Sequence[str]) -> int:
    """Empty the metrics directory when starting a serving role; the files removed.

    Creates the directory when it does not exist, so the client never fails on it.
    """
    folder = environ.get(MULTIPROCESS_ENV, "").strip()
    if not folder or len(argv) < 2 or argv[1] not in SERVING_COMMANDS:
        return 0
    if any(a in ("--help", "-h") for a in argv[2:]):
        return 0
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    removed = 0
    for file in path.glob("*.db"):
        try:
            file.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed


empty_multiprocess_dir(os.environ, sys.argv)
