"""SQL statements and CPU per message on the hot path: `python -m benchmarks.hotpath_probe`.

Web chat incident reports go through the real parts in one process: the ingress (group
commit into the inbox), the worker (claim, NLU, handlers in a unit of work, outbox) and the
dispatcher (claim, send, settle), on a fresh migrated database with the demo directory.
Each phase is run to completion before the next, so the figures are counts, not rates:
statements per message by kind (SELECT, INSERT, ...) and by table, commits, and CPU
milliseconds per message (`time.process_time`, every thread; the NLU's share is measured
on its own thread). Counts barely move between runs; CPU time is as noisy as the machine.

A fresh SQLite file is used unless `--database-url` names a PostgreSQL server, on which a
throw-away database is created and dropped; `--redis-url` adds the Redis queue and state
of the scaled mode. `--json` prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import re
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.history import fill
from benchmarks.servers import ROOT, _database, _pg, _redis_clear
from bot.config import Settings
from bot.container import Container, build_container
from bot.logging import configure as configure_logging
from bot.worker import freeze_startup_objects
from channels.conversation import Address, Identity, Message
from nlu.types import CatalogEntry, Understander, Understanding
from store.enums import InboxStatus, OutboxStatus
from store.migrate import upgrade
from store.models import InboxEvent, OutboxMessage, Ticket
from store.uow import UnitOfWork

TEXT = "The VPN is down and I cannot connect from home"
PHASES = ("ingest", "worker", "dispatcher")

_KIND = re.compile(r"^\s*(\w+)")
_DML_AFTER_CTE = re.compile(r"\)\s*(INSERT|UPDATE|DELETE)\b", re.I)
_TABLE = {
    "INSERT": re.compile(r"\bINTO\s+\"?(\w+)", re.I),
    "UPDATE": re.compile(r"^\s*UPDATE\s+\"?(\w+)", re.I),
    "DELETE": re.compile(r"\bFROM\s+\"?(\w+)", re.I),
    "SELECT": re.compile(r"\bFROM\s+\"?(\w+)", re.I),
}


def classify(sql: str) -> tuple[str, str]:
    """A statement's kind (`SELECT`, `INSERT`, `BEGIN`, ...) and the first table it names."""
    m = _KIND.match(sql)
    kind = m.group(1).upper() if m else "?"
    if kind == "WITH":
        # A CTE in front of the statement proper (`WITH n AS (...) INSERT INTO ...`).
        dml = _DML_AFTER_CTE.search(sql)
        kind = dml.group(1).upper() if dml else "SELECT"
        sql = sql[dml.start(1) :] if dml else sql
    pattern = _TABLE.get(kind)
    found = pattern.search(sql) if pattern else None
    if kind == "SELECT" and found is None:
        return kind, "(no table)"  # nextval(), a constant
    return kind, found.group(1) if found else ""


@dataclass
class PhaseFigures:
    """What one phase cost: statements by kind and table, commits, CPU seconds."""

    kinds: Counter[str] = field(default_factory=Counter)
    tables: Counter[str] = field(default_factory=Counter)
    commits: int = 0
    cpu: float = 0.0
    nlu_cpu: float = 0.0
    wall: float = 0.0

    def per_message(self, n: int) -> dict[str, Any]:
        """The figures divided by `n` messages, rounded for reading."""
        statements = sum(v for k, v in self.kinds.items() if k not in {"BEGIN", "COMMIT"})
        return {
            "statements": round(statements / n, 2),
            "by_kind": {k: round(v / n, 2) for k, v in self.kinds.most_common()},
            "by_table": {k: round(v / n, 2) for k, v in self.tables.most_common()},
            "commits": round(self.commits / n, 3),
            "cpu_ms": round(self.cpu * 1000 / n, 2),
            "nlu_cpu_ms": round(self.nlu_cpu * 1000 / n, 2),
            "wall_ms": round(self.wall * 1000 / n, 2),
        }


class StatementCounter:
    """Counts the statements and commits an engine runs, charged to the current phase."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.phase = ""
        self.figures = {p: PhaseFigures() for p in PHASES}
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if self.phase:
            kind, table = classify(sql)
            self.figures[self.phase].kinds[kind] += 1
            if table:
                self.figures[self.phase].tables[f"{kind} {table}"] += 1

    def _commit(self, _conn: Any) -> None:
        if self.phase:
            self.figures[self.phase].commits += 1


class GcPauses:
    """The collector's pauses while installed, by generation: how many, longest, total."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        """`gc.callbacks` entry: time from each collection's start to its stop."""
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[int(info["generation"])].append(time.perf_counter() - self._started)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per generation: count, longest and total pause in milliseconds."""
        return {
            f"gen{g}": {
                "count": len(p),
                "max_ms": round(max(p, default=0.0) * 1000, 1),
                "total_ms": round(sum(p) * 1000, 1),
            }
            for g, p in self.pauses.items()
        }


class TimedUnderstander:
    """The worker's understander, with the CPU time its thread spends parsing added up."""

    def __init__(self, inner: Understander) -> None:
        self.inner = inner
        self.cpu = 0.0

    @property
    def threshold(self) -> float:
        """The wrapped understander's threshold."""
        return self.inner.threshold

    def parse(self, text: str, *, now: datetime | None = None) -> Understanding:
        """One message, through the wrapped understander."""
        return self.parse_many([text], now=now)[0]

    def parse_many(
        self, texts: Sequence[str], *, now: datetime | None = None
    ) -> list[Understanding]:
        """Many messages, timed on the calling thread's CPU clock."""
        started = time.thread_time()
        try:
            return self.inner.parse_many(texts, now=now)
        finally:
            self.cpu += time.thread_time() - started

    def set_services(self, entries: Iterable[CatalogEntry]) -> None:
        """Pass the service names on."""
        self.inner.set_services(entries)


@dataclass
class ProbeReport:
    """The probe's result: per-phase figures and what the database holds afterwards."""

    database: str
    messages: int
    phases: dict[str, PhaseFigures]
    tickets: int
    inbox_done: int
    outbox_sent: int
    history: int = 0
    gc: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as one JSON object, figures per message."""
        n = self.messages
        per = {name: f.per_message(n) for name, f in self.phases.items()}
        hot = PhaseFigures()
        for name in ("worker", "dispatcher"):
            f = self.phases[name]
            hot.kinds.update(f.kinds)
            hot.tables.update(f.tables)
            hot.commits += f.commits
            hot.cpu += f.cpu
            hot.nlu_cpu += f.nlu_cpu
            hot.wall += f.wall
        return {
            "database": self.database,
            "messages": n,
            "history": self.history,
            "check": {
                "tickets": self.tickets,
                "inbox_done": self.inbox_done,
                "outbox_sent": self.outbox_sent,
            },
            "worker_and_dispatcher": hot.per_message(n),
            "phases": per,
            "gc_pauses": self.gc,
        }


def _say(quiet: bool, text: str) -> None:
    if not quiet:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


async def _seed(container: Container) -> None:
    from bot.demo import seed_demo

    async with UnitOfWork(container.factory) as uow:
        await seed_demo(uow)
        await uow.commit()


async def _drive(
    container: Container, n: int, visitors: int, quiet: bool, history: int = 0
) -> ProbeReport:
    worker, dispatcher = container.worker, container.dispatcher
    if worker is None or dispatcher is None:
        raise RuntimeError("the container was opened without the worker role")
    before = await _counts(container)
    counter = StatementCounter(container.engine)
    timed = TimedUnderstander(worker.nlu)
    worker.nlu = timed
    run = uuid.uuid4().hex[:6]
    visitor = [f"v{run}{v}" for v in range(visitors)]
    # As the web chat channel parses a posted message: the visitor is conversation and user.
    events = [
        Message(
            event_id=f"{visitor[i % visitors]}:{i}",
            address=Address(
                channel="webchat", conversation=visitor[i % visitors], user=visitor[i % visitors]
            ),
            sender=Identity(platform="webchat", external_id=visitor[i % visitors]),
            text=f"{TEXT} ({i})",
        )
        for i in range(n)
    ]

    async def phase(name: str, work: Any) -> Any:
        counter.phase = name
        figures = counter.figures[name]
        cpu, wall, nlu = time.process_time(), time.perf_counter(), timed.cpu
        try:
            return await work
        finally:
            figures.cpu += time.process_time() - cpu
            figures.wall += time.perf_counter() - wall
            figures.nlu_cpu += timed.cpu - nlu
            counter.phase = ""

    _say(quiet, f"ingesting {n} web chat reports")
    for start in range(0, n, 32):
        chunk = events[start : start + 32]
        await phase("ingest", asyncio.gather(*(container.ingest(e) for e in chunk)))
    handled, idle = 0, 0
    freeze_startup_objects()  # as the worker does when it starts
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    while handled < n and idle < 20:
        jobs = await container.queue.claim(worker.consumer, count=worker.batch, block_ms=100)
        if not jobs:
            idle += 1
            continue
        await phase("worker", worker.process(jobs))
        while await phase("dispatcher", dispatcher.dispatch()):
            pass
        handled += len(jobs)
        _say(quiet, f"handled {handled}/{n}")
    counter.phase = ""
    gc.callbacks.remove(pauses)
    tickets, done, sent = (a - b for a, b in zip(await _counts(container), before, strict=True))
    return ProbeReport(
        database=container.engine.dialect.name,
        messages=n,
        phases=counter.figures,
        tickets=tickets,
        inbox_done=done,
        outbox_sent=sent,
        history=history,
        gc=pauses.summary(),
    )


async def _counts(container: Container) -> tuple[int, int, int]:
    """Tickets, inbox rows done and replies sent, in the whole database."""
    async with UnitOfWork(container.factory) as uow:
        s = uow.session
        tickets = await s.scalar(select(func.count()).select_from(Ticket))
        done = await s.scalar(select(func.count()).where(InboxEvent.status == InboxStatus.DONE))
        sent = await s.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT))
    return int(tickets or 0), int(done or 0), int(sent or 0)


async def _run(
    settings: Settings, n: int, visitors: int, quiet: bool, run_size: int | None, history: int
) -> ProbeReport:
    container = build_container(settings)
    async with container:
        await _seed(container)
        if history:
            await _past(container, history, quiet)
        await container.refresh_services()
        if run_size is not None and container.worker is not None:
            container.worker.handling.per_transaction = run_size
        return await _drive(container, n, visitors, quiet, history)


async def _past(container: Container, n: int, quiet: bool) -> None:
    written = 0

    def told(rows: int) -> None:
        nonlocal written
        written += rows
        _say(quiet, f"history {written}/{n}")

    await fill(container.engine, n, progress=told)


def probe(
    messages: int = 200,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    visitors: int = 200,
    quiet: bool = False,
    run_size: int | None = None,
    history: int = 0,
) -> ProbeReport:
    """Drive `messages` web chat reports through a fresh deployment's parts; the figures.

    `run_size` fixes the events per worker transaction: 2 is SQLite's while webhooks are
    arriving, its normal state under load, which a probe without an ingress never reaches.
    `history` past conversations are written first (`benchmarks.history`), so a statement
    whose cost grows with the tables shows up.
    """
    work = Path(tempfile.mkdtemp(prefix="switchboard-probe-"))
    prefix = f"probe:{uuid.uuid4().hex[:10]}:"
    pg_name = f"sb_probe_{uuid.uuid4().hex[:10]}"
    url = f"sqlite:///{work}/switchboard.db"
    if database_url:
        asyncio.run(_pg(database_url, f'CREATE DATABASE "{pg_name}"'))
        url = _database(database_url, pg_name)
    settings = Settings(
        database_url=url,
        redis_url=redis_url,
        redis_prefix=prefix,
        secret_key="probe-" + uuid.uuid4().hex,
        nlu_model_path=ROOT / "var" / "models" / "nlu",
        log_level="WARNING",
    )
    configure_logging("WARNING", "console")
    try:
        _say(quiet, "migrating a fresh database")
        upgrade(settings.async_database_url)
        return asyncio.run(_run(settings, messages, visitors, quiet, run_size, history))
    finally:
        if database_url:
            asyncio.run(_pg(database_url, f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
        if redis_url:
            asyncio.run(_redis_clear(redis_url, prefix))


def render(report: dict[str, Any]) -> str:
    """The report as lines of text: totals first, then each phase by kind and table."""
    lines = [
        f"{report['messages']} messages on {report['database']}"
        f" after {report['history']} past conversations; check: {json.dumps(report['check'])}"
    ]
    sections = [("worker + dispatcher", report["worker_and_dispatcher"])]
    sections += list(report["phases"].items())
    for name, f in sections:
        lines.append(
            f"\n{name}: {f['statements']} statements/message, {f['commits']} commits/message, "
            f"CPU {f['cpu_ms']} ms/message (NLU {f['nlu_cpu_ms']}), wall {f['wall_ms']} ms"
        )
        lines.append("  by kind:  " + ", ".join(f"{k} {v}" for k, v in f["by_kind"].items()))
        for table, v in f["by_table"].items():
            lines.append(f"    {v:7.2f}  {table}")
    lines.append("\ncollector pauses while handling: " + json.dumps(report["gc_pauses"]))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, run the probe and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotpath_probe")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--visitors", type=int, default=200, help="conversations to spread over")
    parser.add_argument("--database-url", help="a PostgreSQL server (a new database is made)")
    parser.add_argument("--redis-url", help="use the Redis queue and state of the scaled mode")
    parser.add_argument(
        "--run-size", type=int, help="events per worker transaction (default: the mode's own)"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="past conversations written first (a year old: closed tickets, sent replies)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    report = probe(
        args.messages,
        database_url=args.database_url,
        redis_url=args.redis_url,
        visitors=args.visitors,
        quiet=args.quiet,
        run_size=args.run_size,
        history=args.history,
    ).as_dict()
    sys.stdout.write((json.dumps(report) if args.json else render(report)) + "\n")


if __name__ == "__main__":
    main()
