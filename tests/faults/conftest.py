"""Private servers for fault tests: a Redis and a PostgreSQL of the test's own.

Fault tests stop, kill and restart servers; they never do that to the shared ones. Each
private server listens on a free loopback port, keeps its files in a temporary directory
and is removed when the test ends. PostgreSQL refuses to run as root, so its cluster is
created and run as user `postgres` (`runuser`), which needs a root test run (CI).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.servers import free_port
from bot.config import Settings
from tests.conftest import make_settings, missing_service, prepare_database


class PrivateRedis:
    """`redis-server` without persistence: a restart loses every key, as an outage may."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _wait_for(lambda: self._pong(), what="redis-server", timeout=10)

    def _pong(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """Stop at once, as a crash or an OOM kill would (nothing saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster owned by user `postgres`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def init(self) -> None:
        self._as_postgres(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.workdir / "pg.log"),
            "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast` ends sessions ("terminating connection due to administrator command")."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


def _wait_for(check: object, *, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up in {timeout}s")


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
