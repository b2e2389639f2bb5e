"""Throw-away deployments for benchmarks: a fresh database, real `switchboard` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

try:
    import psutil
except ImportError as e:  # a runtime install leaves it out
    raise ImportError("the benchmarks need psutil: pip install 'switchboard[bench]'") from e

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback TCP port free at the moment of asking, for a server to bind."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv = argv
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.peak_rss = 0

    @classmethod
    def switchboard(cls, args: list[str], env: dict[str, str], log: Path) -> Proc:
        """A `switchboard` command (`args`) run as `python -m bot` by this interpreter."""
        return cls([sys.executable, "-m", "bot", *args], env, log)

    def sample_rss(self) -> int:
        """Resident memory in bytes now, keeping the peak; the peak once the process is gone."""
        try:
            rss = int(psutil.Process(self.popen.pid).memory_info().rss)
        except psutil.Error:
            return self.peak_rss
        self.peak_rss = max(self.peak_rss, rss)
        return rss

    def kill(self) -> None:
        """SIGKILL the whole process group, if it still runs."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it after 15 s, then close the log."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()

    def tail(self, n: int = 30) -> str:
        """The last `n` lines of the log, to show why a start failed."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])


def wait_healthy(url: str, proc: Proc, timeout: float = 120.0) -> None:
    """Poll `/healthz` until it answers 200.

    Raises:
        RuntimeError: the process exited or `timeout` passed first (the log's tail says why).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{' '.join(proc.argv)} exited:\n{proc.tail()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{' '.join(proc.argv)} not healthy after {timeout}s:\n{proc.tail()}")


@dataclass
class Deployment:
    """A running deployment: its mode, address, environment, database and processes."""

    mode: str
    base_url: str
    env: dict[str, str]
    database_url: str
    procs: list[Proc] = field(default_factory=list)
    workdir: Path = Path()

    def roles(self) -> dict[str, Proc]:
        """The processes by command and position, such as `worker#1`, for per-role figures."""
        return {" ".join(p.argv[3:4]) + f"#{i}": p for i, p in enumerate(self.procs)}


def _database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _pg(admin_url: str, sql: str) -> None:
    import asyncpg

    dsn = urlunsplit(urlsplit(admin_url)._replace(scheme="postgresql"))
    conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _redis_clear(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def base_env(**extra: str) -> dict[str, str]:
    """This environment without channel, database or Redis settings, plus quiet logs and `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "TELEGRAM_", "TWILIO_", "X_", "DATABASE_URL", "REDIS_"))
    }
    env.update(
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
        SECRET_KEY="bench-" + uuid.uuid4().hex,
        NLU_MODEL_PATH=str((ROOT / "var" / "models" / "nlu").resolve()),
    )
    env.update(extra)
    return env


@contextmanager
def deployment(
    mode: str,
    *,
    workers: int = 2,
    pg_admin: str = "postgresql://postgres@127.0.0.1:5432/postgres",
    redis_url: str = "redis://127.0.0.1:6379/0",
    roles: str = "all",
    extra_env: dict[str, str] | None = None,
    history: int = 0,
) -> Iterator[Deployment]:
    """A migrated database with the demo directory and the processes of `mode`.

    `embedded`: one `switchboard serve` on SQLite. `scaled`: `switchboard web` plus
    `workers` × `switchboard worker` on a new PostgreSQL database and a fresh Redis prefix.
    `roles="web"` starts only the web process (the ack path alone); `history` past
    conversations are written into the database before any process starts.
    """
    work = Path(tempfile.mkdtemp(prefix=f"switchboard-bench-{mode}-"))
    port = free_port()
    prefix = f"bench:{uuid.uuid4().hex[:10]}:"
    pg_name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    if mode == "embedded":
        db_url = f"sqlite:///{work}/switchboard.db"
        env = base_env(DATABASE_URL=db_url, **(extra_env or {}))
    else:
        asyncio.run(_pg(pg_admin, f'CREATE DATABASE "{pg_name}"'))
        db_url = _database(pg_admin, pg_name)
        env = base_env(
            DATABASE_URL=db_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix, **(extra_env or {})
        )
    dep = Deployment(mode, f"http://127.0.0.1:{port}", env, db_url, workdir=work)
    try:
        for args in (["db", "upgrade"], ["seed", "--demo"], ["nlu", "train", "--if-missing"]):
            subprocess.run(  # noqa: S603
                [sys.executable, "-m", "bot", *args],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        if history:
            asyncio.run(_history(db_url, history))
        if mode == "embedded":
            web = Proc.switchboard(["serve", "--port", str(port)], env, work / "serve.log")
        else:
            web = Proc.switchboard(["web", "--port", str(port)], env, work / "web.log")
        dep.procs.append(web)
        if mode != "embedded" and roles == "all":
            for i in range(workers):
                dep.procs.append(Proc.switchboard(["worker"], env, work / f"worker{i}.log"))
        wait_healthy(dep.base_url, web)
        yield dep
    finally:
        for p in dep.procs:
            p.stop()
        if mode != "embedded":
            asyncio.run(_pg(pg_admin, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            asyncio.run(_redis_clear(redis_url, prefix))


async def _history(database_url: str, n: int) -> None:
    from benchmarks.history import fill
    from store.db import create_engine, normalise_database_url

    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        await fill(engine, n)
    finally:
        await engine.dispose()


@contextmanager
def bare_server(app: str = "benchmarks.bare:app") -> Iterator[tuple[str, Proc]]:
    """The reference endpoint under the same uvicorn flags as `switchboard web`.

    `app` names another do-nothing application, such as the Slack sink.
    """
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="switchboard-bench-bare-"))
    proc = Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--proxy-headers",
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "10",
        ],
        base_env(),
        work / "bare.log",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.stop()
