"""Where a burst's CPU goes, process by process: `switchboard bench profile`.

A deployment of the chosen mode starts as `bench pipeline` starts one; py-spy is attached to
each of its processes (`record --gil --format raw`: only samples of the thread holding the
GIL, so a thread waiting on I/O or inside the NLU's released sections is not charged), the
same web chat burst is pushed and handled, and each profile is charged to libraries by
`benchmarks.profile_summary`. The raw profiles are kept for a closer look (a flame graph,
`profile_summary` again). py-spy is a bench tool, not a dependency: `pip install py-spy`.

py-spy charges a thread that holds the GIL whether it runs or waits for a core: a process
preempted right after waking the database or the client keeps being sampled in that write.
So each process's CPU time (user and system, from the OS) is taken over the same interval
and printed beside the sampled time; where they part, the shares are partly waiting. The
embedded process gets a core of its own (the client and py-spy take the others), as the
bare reference is measured, so its samples are its CPU; the scaled mode's processes share
the cores with PostgreSQL and Redis and cannot be kept apart that way.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.pipeline import _max_inbox_id, _requests, _wait_handled, closed_loop_n
from benchmarks.profile_summary import DATABASE, database_kinds, hottest, summarise
from benchmarks.servers import deployment


class ProfilerMissing(RuntimeError):
    """py-spy is not installed, or could not attach to a process."""


@dataclass
class ProcessProfile:
    """One process's samples during the burst, charged to libraries."""

    mode: str
    process: str
    path: Path
    samples: int
    groups: Counter[str]
    functions: list[tuple[str, int]]
    rate: int = 250
    cpu_seconds: float = float("nan")
    """CPU the process used (user and system) while it was sampled, as the OS counts it."""
    own_core: bool = False
    """Whether the process had a core to itself while it was sampled."""
    kinds: Counter[str] = field(default_factory=Counter)
    """The database layer's samples by the kind of work (`profile_summary.KINDS`)."""

    @property
    def sampled_seconds(self) -> float:
        """How long the process was seen holding the GIL: samples over the sampling rate."""
        return self.samples / self.rate if self.rate else float("nan")

    @property
    def waiting_share(self) -> float:
        """The part of the sampled time that was not CPU: preempted while holding the GIL."""
        sampled = self.sampled_seconds
        if not sampled or math.isnan(self.cpu_seconds):
            return float("nan")
        return max(0.0, 1 - self.cpu_seconds / sampled)

    @property
    def database_samples(self) -> int:
        """Samples charged to SQLAlchemy, the driver and `store/` together."""
        return sum(self.groups[g] for g in DATABASE)

    @property
    def database_share(self) -> float:
        """The database layer's share of the samples."""
        if not self.samples:
            return float("nan")
        return self.database_samples / self.samples

    def share(self, group: str) -> float:
        """One group's share of the samples."""
        return self.groups[group] / self.samples if self.samples else float("nan")

    def kind_share(self, kind: str) -> float:
        """One kind of database work's share of all the samples."""
        return self.kinds[kind] / self.samples if self.samples else float("nan")

    def share_without(self, kind: str) -> float:
        """The database layer's share if the work of `kind` were gone and nothing replaced it.

        The floor a change removing that kind of work can reach: the rest of the process
        keeps its samples, so the layer's share falls by less than the kind's own.
        """
        left = self.samples - self.kinds[kind]
        if not left:
            return float("nan")
        return (self.database_samples - self.kinds[kind]) / left

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON object: shares rounded to a tenth of a per cent."""
        return {
            "mode": self.mode,
            "process": self.process,
            "samples": self.samples,
            "sampled_seconds": round(self.sampled_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "own_core": self.own_core,
            "database_share": round(self.database_share, 3),
            "groups": {g: round(n / self.samples, 3) for g, n in self.groups.most_common()},
            "database_kinds": {k: round(n / self.samples, 3) for k, n in self.kinds.most_common()},
            "functions": {f: round(n / self.samples, 3) for f, n in self.functions},
            "profile": str(self.path),
        }


def py_spy() -> str:
    """The py-spy executable: on the PATH, or beside this interpreter (a virtualenv's bin)."""
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found is None:
        raise ProfilerMissing("py-spy is not installed: pip install py-spy")
    return found


def run_mode(
    mode: str,
    *,
    messages: int,
    rate: int,
    out: Path,
    workers: int = 2,
    step: Callable[[str], None] = lambda _what: None,
) -> list[ProcessProfile]:
    """Start `mode`, profile each of its processes through a burst of `messages`, summarise."""
    spy = py_spy()
    out.mkdir(parents=True, exist_ok=True)
    with (
        deployment(mode, workers=workers) as dep,
        _core_apart(dep.procs[0].popen.pid if mode == "embedded" else None) as own_core,
    ):
        names = (
            ["serve"] if mode == "embedded" else ["web"] + [f"worker{i}" for i in range(workers)]
        )
        build = _requests(dep.base_url, visitors=200)
        start_id = asyncio.run(_max_inbox_id(dep.database_url))
        paths = [out / f"{mode}-{name}.txt" for name in names]
        logs = [out / f"{mode}-{name}.py-spy.log" for name in names]
        spies = []
        for proc, path, log in zip(dep.procs, paths, logs, strict=True):
            argv = [spy, "record", "--pid", str(proc.popen.pid), "--gil", "--format", "raw"]
            argv += ["--rate", str(rate), "-o", str(path)]
            with log.open("wb") as sink:
                spies.append(subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT))  # noqa: S603
        time.sleep(1.0)  # py-spy attaches and starts sampling
        cpu_at_start = [_cpu_seconds(p.popen.pid) for p in dep.procs]
        for s, log in zip(spies, logs, strict=True):
            if s.poll() is not None:
                _stop(spies)
                said = log.read_text(errors="replace").strip()
                raise ProfilerMissing(
                    f"py-spy could not attach ({said or f'exit {s.returncode}'}); it needs to "
                    "trace other processes: run as root, or allow it with "
                    "`sysctl kernel.yama.ptrace_scope=0`"
                )
        step(f"{mode}: pushing {messages} messages")
        burst = asyncio.run(closed_loop_n(build, messages))
        step(f"{mode}: waiting for {burst} messages to be handled")
        _wait_handled(dep, start_id, burst, timeout=600)
        cpu = [_cpu_seconds(p.popen.pid) - c for p, c in zip(dep.procs, cpu_at_start, strict=True)]
        _stop(spies)
    profiles = []
    for name, path, used in zip(names, paths, cpu, strict=True):
        lines = path.read_text().splitlines() if path.exists() else []
        samples, groups = summarise(lines)
        profiles.append(
            ProcessProfile(
                mode,
                name,
                path,
                samples,
                groups,
                hottest(lines),
                rate,
                used,
                own_core,
                database_kinds(lines),
            )
        )
    return profiles


def _cpu_seconds(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


@contextmanager
def _core_apart(pid: int | None) -> Iterator[bool]:
    """Give `pid` (every thread it has) the last core and this process the others, meanwhile.

    Yields whether it could: not without a `pid`, on one core, or where the OS cannot pin
    processes. Threads `pid` starts later inherit its core; py-spy, started after, ours.
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_setaffinity") else []
    if pid is None or len(cores) < 2:
        yield False
        return
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))
    try:
        yield True
    finally:
        os.sched_setaffinity(0, set(cores))


def _stop(spies: list[subprocess.Popen[bytes]]) -> None:
    # SIGINT makes py-spy write out what it sampled; a kill would lose it.
    for s in spies:
        if s.poll() is None:
            s.send_signal(signal.SIGINT)
    for s in spies:
        try:
            s.wait(timeout=60)
        except subprocess.TimeoutExpired:
            s.kill()
            s.wait()
