"""Give back the resident pages of library code and data a started process no longer runs.

A process maps its shared libraries (the interpreter, numpy, spaCy's and thinc's extension
modules, blis, OpenSSL...) from files, and every page of them it has touched counts in its
resident memory. Most of those pages ran once, while the modules were imported and the model
was loaded; and since Linux maps whole large folios of the page cache on a fault, importing a
module can make most of a library's code resident although the process never runs it: blis's
kernel library (16 MB of code, which thinc imports at start-up and our pipeline never calls)
was 12 MB of a worker's resident memory.

Once start-up is over the worker asks the kernel to drop those pages from its page tables
(`madvise(MADV_DONTNEED)`). The pages stay in the page cache, shared with every other process,
and whatever the process runs again is faulted back from there (a minor fault, no disk read),
so the resident memory settles on what the process actually runs. Only mappings whose every
page is still the file's own are touched: never a writable one, and never a read-only one
holding pages of its own (relocated data made read-only after the loader wrote it, RELRO),
since dropping those would bring back the file's unrelocated bytes.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

MADV_DONTNEED = 4
SMAPS = Path("/proc/self/smaps")


@dataclass(frozen=True, slots=True)
class Mapping:
    """One mapping of `/proc/self/smaps`: its range, permissions, file and page counts (kB)."""

    start: int
    end: int
    perms: str
    path: str
    rss_kb: int
    anonymous_kb: int
    locked_kb: int

    @property
    def clean_file_pages(self) -> bool:
        """True when every resident page is the file's own, so the kernel can read it again."""
        return (
            "w" not in self.perms
            and self.path.startswith("/")
            and not self.path.startswith("/dev/")
            and not self.path.endswith(" (deleted)")
            and self.anonymous_kb == 0
            and self.locked_kb == 0
        )


def mappings(smaps: Path = SMAPS) -> Iterator[Mapping]:
    """The process's mappings as `/proc/self/smaps` lists them."""
    header: list[str] | None = None
    fields: dict[str, int] = {}
    with smaps.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            key, _, rest = line.partition(" ")
            if key.endswith(":"):
                value = rest.split()
                if value and value[0].isdigit():
                    fields[key] = int(value[0])
                continue
            if header is not None:
                yield _mapping(header, fields)
            header, fields = line.split(maxsplit=5), {}
    if header is not None:
        yield _mapping(header, fields)


def _mapping(header: list[str], fields: dict[str, int]) -> Mapping:
    start, end = (int(x, 16) for x in header[0].split("-"))
    return Mapping(
        start=start,
        end=end,
        perms=header[1],
        path=header[5].rstrip("\n") if len(header) > 5 else "",
        rss_kb=fields.get("Rss:", 0),
        anonymous_kb=fields.get("Anonymous:", 0),
        # A field this kernel does not report counts as present: such a mapping is left alone.
        locked_kb=fields.get("Locked:", 1),
    )


def release_file_pages(
    wanted: Callable[[str], bool] = lambda path: True, *, smaps: Path = SMAPS
) -> int:
    """Drop the resident pages of clean, read-only file mappings whose path is `wanted`.

    Returns the resident kilobytes released. Best effort: on another system, or on any error,
    it releases nothing (or less) and says so at debug level; the process is never harmed.
    """
    if not sys.platform.startswith("linux"):
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
        madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        madvise.restype = ctypes.c_int
        # Read them all before changing any, so the list describes one moment.
        candidates = [
            m for m in mappings(smaps) if m.rss_kb and m.clean_file_pages and wanted(m.path)
        ]
    except (OSError, AttributeError, ValueError) as e:
        log.debug("resident.unavailable", error=repr(e))
        return 0
    released = 0
    for m in candidates:
        if madvise(m.start, m.end - m.start, MADV_DONTNEED) == 0:
            released += m.rss_kb
        else:
            log.debug("resident.madvise_failed", path=m.path, errno=ctypes.get_errno())
    log.debug("resident.released", kb=released, mappings=len(candidates))
    return released
