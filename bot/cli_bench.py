"""`switchboard bench`: throughput and latency of the ack path and the whole pipeline.

Each command starts real processes on a throw-away database (SQLite for the embedded
mode; a new PostgreSQL database and Redis key prefix for the scaled mode), drives them with
a loopback load and prints the figures. Nothing here is asserted: these are measurements.
"""

from __future__ import annotations

from bot import cli_bench_delivery, cli_bench_desk
from bot.cli_bench_common import app

# The command modules register on `app` when imported.
__all__ = ["app", "cli_bench_desk", "cli_bench_delivery"]
