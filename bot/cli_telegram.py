"""`switchboard telegram`: webhook registration and checks for the Telegram channel."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True)
