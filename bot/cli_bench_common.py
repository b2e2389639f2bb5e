"""What every `switchboard bench` command shares: the Typer app, consoles, modes, a progress bar.

The commands live in `bot.cli_bench_delivery` (ingest, the pipeline, memory, alerts) and
`bot.cli_bench_desk` (service levels, the configuration database, knowledge, the console);
`bot.cli_bench` joins them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

app = typer.Typer(no_args_is_help=True)
# Tables are wide; don't squeeze them into 80 columns when output goes to a file or a pipe.
out = Console(width=None if Console().is_terminal else 140)
err = Console(stderr=True)


class Mode(StrEnum):
    """Which deployment a benchmark runs against: one process, web and workers apart, or each."""

    embedded = "embedded"
    scaled = "scaled"
    both = "both"


@contextmanager
def steps() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar on stderr (when it is a terminal), moved by `step(what, done, total)`."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("starting", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(task, description=what, completed=done, total=total)

        yield step


def modes(mode: Mode) -> list[str]:
    """The modes `mode` stands for, one or both."""
    return ["embedded", "scaled"] if mode is Mode.both else [mode.value]
