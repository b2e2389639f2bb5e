"""Fixtures for fault tests: a private Redis and PostgreSQL (`tests.services`) per test.

Each server keeps its files in a temporary directory and is removed when the test ends.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import make_settings, missing_service, prepare_database
from tests.services import PrivatePostgres, PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        missing_service("redis-server (for a private Redis)")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = PrivateRedis(workdir)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    if os.geteuid() != 0 or shutil.which("initdb") is None or shutil.which("runuser") is None:
        missing_service("root with initdb and runuser (for a private PostgreSQL)")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        missing_service("a `postgres` user (for a private PostgreSQL)")
        raise
    workdir = Path(tempfile.mkdtemp(prefix="sb-pg-"))
    os.chown(workdir, owner.pw_uid, owner.pw_gid)
    workdir.chmod(0o755)
    server = PrivatePostgres(workdir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            try:
                server.stop("immediate")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
async def redis_fault_settings(
    pg_url: str, private_redis: PrivateRedis, model_root: Path
) -> Settings:
    """Scaled settings on a fresh database of the shared PostgreSQL and a private Redis."""
    s = make_settings(pg_url, model_root, redis_url=private_redis.url, redis_prefix="sbfault:")
    await prepare_database(s)
    return s


@pytest.fixture
async def postgres_fault_settings(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, model_root: Path
) -> Settings:
    """Scaled settings on a private PostgreSQL and a private Redis."""
    s = make_settings(
        private_postgres.url, model_root, redis_url=private_redis.url, redis_prefix="sbfault:"
    )
    await prepare_database(s)
    return s
