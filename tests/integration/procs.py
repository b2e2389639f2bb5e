"""Real `switchboard` processes for the scaled-mode and browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks import servers
from benchmarks.servers import free_port
from bot.config import Settings

__all__ = ["environment", "free_port", "processes", "start", "wait_healthy"]


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    """The process environment that reproduces these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        NLU_MODEL_PATH=str(Path(settings.nlu_model_path).resolve()),
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        ENVIRONMENT="test",
        PYTHONUNBUFFERED="1",
    )
    if settings.redis_url:
        env.update(REDIS_URL=settings.redis_url, REDIS_PREFIX=settings.redis_prefix)
    if settings.secret_key is not None:
        env["SECRET_KEY"] = settings.secret_key.get_secret_value()
    env.update(extra)
    return env


def start(args: list[str], env: dict[str, str], log: Path) -> servers.Proc:
    """`switchboard <args>` in its own process group, logging to `log`."""
    return servers.Proc.switchboard(args, env, log)


@contextmanager
def processes(tmp: Path) -> Iterator[list[servers.Proc]]:
    """Collects started processes and stops each one, whatever the test did."""
    running: list[servers.Proc] = []
    try:
        yield running
    finally:
        for p in running:
            p.stop()


def wait_healthy(port: int, proc: servers.Proc, timeout: float = 60.0) -> None:
    servers.wait_healthy(f"http://127.0.0.1:{port}", proc, timeout)
