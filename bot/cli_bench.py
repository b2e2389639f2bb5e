"""`switchboard bench`: throughput and latency of the ack path and the whole pipeline."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
