"""Where a burst's CPU goes, process by process: `switchboard bench profile`.

A deployment of the chosen mode starts as `bench pipeline` starts one; py-spy is attached to
each of its processes (`record --gil --format raw`: only samples of the thread holding the
GIL, so a thread waiting on I/O or inside the NLU's released sections is not charged), the
same web chat burst is pushed and handled, and each profile is charged to libraries by
`benchmarks.profile_summary`. The raw profiles are kept for a closer look (a flame graph,
`profile_summary` again). py-spy is a bench tool, not a dependency: `pip install py-spy`.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.pipeline import _max_inbox_id, _requests, _wait_handled, closed_loop_n
from benchmarks.profile_summary import DATABASE, hottest, summarise
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

    @property
    def database_share(self) -> float:
        """SQLAlchemy, the driver and `store/` together, as a share of the samples."""
        if not self.samples:
            return float("nan")
        return sum(self.groups[g] for g in DATABASE) / self.samples

    def share(self, group: str) -> float:
        """One group's share of the samples."""
        return self.groups[group] / self.samples if self.samples else float("nan")

    def as_dict(self) -> dict[str, object]:
        """The figures as one JSON object: shares rounded to a tenth of a per cent."""
        return {
            "mode": self.mode,
            "process": self.process,
            "samples": self.samples,
            "database_share": round(self.database_share, 3),
            "groups": {g: round(n / self.samples, 3) for g, n in self.groups.most_common()},
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
    with deployment(mode, workers=workers) as dep:
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
        _stop(spies)
    profiles = []
    for name, path in zip(names, paths, strict=True):
        lines = path.read_text().splitlines() if path.exists() else []
        samples, groups = summarise(lines)
        profiles.append(ProcessProfile(mode, name, path, samples, groups, hottest(lines)))
    return profiles


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
