"""What every `switchboard bench` command shares: the app, consoles, modes, how figures print.

Figures print as a table beside the reference, then the targets, or as one JSON object per
line with `--json`; a progress bar goes to stderr. The commands live in
`bot.cli_bench_delivery` (ingest, the pipeline, memory, alerts) and `bot.cli_bench_desk`
(service levels, the configuration database, knowledge, the console); `bot.cli_bench`
joins them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

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


def figures_table(title: str, columns: Sequence[str], *, left: Collection[str]) -> Table:
    """A table of figures, numbers flush right; the columns in `left` (route, mode) flush left."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def print_figures(table: Table, *notes: str) -> None:
    """The table on stdout, then the lines that say what to read it against (the targets)."""
    out.print(table)
    for note in notes:
        out.print(note)


def print_json(row: Mapping[str, Any], *, ensure_ascii: bool = True) -> None:
    """One JSON object as one line of stdout: never highlighted, never wrapped."""
    out.print(json.dumps(row, ensure_ascii=ensure_ascii), highlight=False, soft_wrap=True)


def ratio(value: float, reference: float, digits: int) -> float | None:
    """`value` in units of `reference` (measured in the same run), rounded; None without one."""
    return round(value / reference, digits) if reference else None


def ratio_text(value: float, reference: float, spec: str = ".2f") -> str:
    """`value / reference` as a table shows it; "-" without a reference."""
    return format(value / reference, spec) if reference else "-"
