"""Crash points for fault tests; inert unless `SWITCHBOARD_FAULTS` names them.

`SWITCHBOARD_FAULTS` is a comma-separated list of `point` or `point@n` (the process dies the
n-th time it reaches the point; plain `point` means the first time). The process ends with
`os._exit(FAULT_EXIT_CODE)`: no cleanup, no flush, no acknowledgement, as a power cut or the
kernel's OOM killer would end it. Points:

- `crash_after_claim`: the worker claimed a batch from the queue and counted the attempt on
  its inbox rows, and has handled none of it.
- `crash_after_commit`: the worker committed a batch's tickets, replies and inbox status and
  has not acknowledged the queue entries yet.

Only tests set the variable; production never does, and an unset variable costs one
dictionary lookup per point.
"""

from __future__ import annotations

import os
import sys

ENV = "SWITCHBOARD_FAULTS"
FAULT_EXIT_CODE = 86
POINTS = frozenset({"crash_after_claim", "crash_after_commit"})

_counts: dict[str, int] = {}


def _armed() -> dict[str, int]:
    spec = os.environ.get(ENV, "")
    armed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        point, _, nth = item.partition("@")
        if point not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {point!r}")
        armed[point] = int(nth or 1)
    return armed


def reached(point: str) -> None:
    """Die here if a test armed `point` and this is the time it asked for."""
    if ENV not in os.environ:
        return
    nth = _armed().get(point)
    if nth is None:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] >= nth:
        sys.stderr.write(f"fault: {point}\n")
        sys.stderr.flush()
        os._exit(FAULT_EXIT_CODE)
