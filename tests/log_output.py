"""Log output that threads may write while pytest swaps and reads its capture streams.

An app under test runs its event loop in a thread of its own (`TestClient`'s portal) and
logs from there, with structlog's default logger printing to `sys.stdout`. That object is
pytest's capture file, which the main thread seeks, reads, truncates and replaces at every
test phase and around `capsys` and `capfd`; a text stream used from two threads at once can
crash the interpreter (a segmentation fault, not an exception). These streams write the
encoded text straight to the file descriptor instead: pytest's fd-level capture (the
default, and `capfd`) still collects every line, and no Python stream object is shared with
the main thread.
"""

from __future__ import annotations

import logging
import os
from typing import TextIO, cast

import structlog


class DescriptorStream:
    """A write-only text stream over a file descriptor, one `os.write` per call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, text: str) -> int:
        """Encode and write `text` whole; the number of characters written."""
        data = text.encode("utf-8", "replace")
        while data:
            data = data[os.write(self.fd, data) :]
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""


def install() -> None:
    """structlog's default output and logging's last-resort handler on the descriptors."""
    out = cast(TextIO, DescriptorStream(1))
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(out))
    # Used for a warning when the root logger has no handler, as between two test phases.
    last = logging.StreamHandler(DescriptorStream(2))
    last.setLevel(logging.WARNING)
    logging.lastResort = last
