"""`bench profile`: what it says without py-spy, and how it reports each process's samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from benchmarks import profile_burst
from bot.cli import app as cli


def test_without_py_spy_it_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda *_a, **_k: None)
    started: list[str] = []
    monkeypatch.setattr(profile_burst, "deployment", lambda mode, **_k: started.append(mode))
    result = CliRunner().invoke(cli, ["bench", "profile", "--messages", "10"])
    assert result.exit_code == 2
    assert "pip install py-spy" in result.output
    assert started == [], "no deployment is started before the profiler is found"


def _profile(
    mode: str, process: str, groups: dict[str, int], cpu: float, own_core: bool = False
) -> profile_burst.ProcessProfile:
    counted = Counter(groups)
    top = [(f"{g.split()[0].lower()}_work (somewhere.py)", n) for g, n in counted.most_common()]
    return profile_burst.ProcessProfile(
        mode,
        process,
        Path(f"/tmp/{process}.txt"),
        sum(counted.values()),
        counted,
        top,
        rate=100,
        cpu_seconds=cpu,
        own_core=own_core,
    )


def test_each_process_is_reported_with_its_database_share(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    asked: list[dict[str, Any]] = []

    def run_mode(mode: str, **kw: Any) -> list[profile_burst.ProcessProfile]:
        asked.append({"mode": mode, **kw})
        return [
            _profile(mode, "web", {"HTTP": 70, "store (ours)": 10, "Redis client": 20}, 0.5),
            _profile(
                mode,
                "worker0",
                {"SQLAlchemy": 30, "store (ours)": 15, "database driver": 5, "NLU": 50},
                1.0,
            ),
        ]

    monkeypatch.setattr(profile_burst, "run_mode", run_mode)
    args = ["bench", "profile", "--mode", "scaled", "--messages", "50", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(r["process"], r["database_share"]) for r in rows] == [("web", 0.1), ("worker0", 0.5)]
    assert rows[1]["groups"]["NLU"] == 0.5
    # 100 samples at 100 a second: one second seen holding the GIL, beside the OS's CPU time.
    assert [(r["sampled_seconds"], r["cpu_seconds"]) for r in rows] == [(1.0, 0.5), (1.0, 1.0)]
    assert asked[0]["mode"] == "scaled"
    assert asked[0]["messages"] == 50
    assert asked[0]["out"] == tmp_path

    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    [line] = [x for x in table.stdout.splitlines() if "database layer" in x and "%" in x]
    # The web role's column first, then the worker's.
    assert line.index("10.0%") < line.index("50.0%")
    # Half the web role's sampled second was spent waiting for a core, none of the worker's.
    [waiting] = [x for x in table.stdout.splitlines() if "waiting for a core" in x]
    assert re.findall(r"\d+%", waiting) == ["50%", "0%"]
    assert str(tmp_path) in table.stdout
    # Each process's own list of the functions its samples ended in.
    assert "scaled worker0: top functions" in table.stdout
    [nlu] = [x for x in table.stdout.splitlines() if "nlu_work" in x]
    assert "50.0%" in nlu


RAW = [
    # py-spy's raw format: the stack outermost first, then the sample count.
    "<module> (bot/__main__.py:3);run (asyncio/runners.py:118);"
    "create (store/tickets.py:190);execute (sqlalchemy/engine/base.py:1400) 6",
    "<module> (bot/__main__.py:3);create (store/tickets.py:191) 2",
    "<module> (bot/__main__.py:3);parse (nlu/understand.py:50);dumps (json/__init__.py:231) 3",
    "<module> (bot/__main__.py:3);handle (/srv/.venv/lib/site-packages/uvicorn/h11.py:40) 4",
    "<module> (bot/__main__.py:3);route (handlers/tickets.py:12) 5",
    "not a sample line",
]


def test_samples_are_charged_to_the_innermost_library_and_functions_counted_whole() -> None:
    from benchmarks.profile_summary import DATABASE, hottest, summarise

    samples, groups = summarise(RAW)
    assert samples == 20
    # The standard library is looked through: json's time counts for the NLU that called it.
    assert groups == Counter(
        {"SQLAlchemy": 6, "store (ours)": 2, "NLU": 3, "HTTP": 4, "handlers": 5}
    )
    assert sum(groups[g] for g in DATABASE) == 8
    top = hottest(RAW, 3)
    assert top == [
        ("execute (sqlalchemy/engine/base.py)", 6),
        ("route (handlers/tickets.py)", 5),
        ("handle (uvicorn/h11.py)", 4),
    ]


def test_a_process_preempted_holding_the_gil_shows_the_wait() -> None:
    waited = _profile("scaled", "worker0", {"database driver": 300}, cpu=1.5)
    assert waited.sampled_seconds == 3.0
    assert waited.waiting_share == 0.5
    busy = _profile("embedded", "serve", {"SQLAlchemy": 100}, cpu=1.2, own_core=True)
    # More CPU than samples (time outside the GIL, py-spy's own gaps) is no wait at all.
    assert busy.waiting_share == 0.0


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning needs an OS that can pin processes and two cores",
)
def test_the_profiled_process_gets_a_core_of_its_own_and_ours_come_back() -> None:
    before = os.sched_getaffinity(0)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with profile_burst._core_apart(child.pid) as apart:
            assert apart is True
            theirs = os.sched_getaffinity(child.pid)
            ours = os.sched_getaffinity(0)
            assert len(theirs) == 1
            assert not theirs & ours
            assert theirs | ours == before
        assert os.sched_getaffinity(0) == before
        with profile_burst._core_apart(None) as apart:
            assert apart is False
            assert os.sched_getaffinity(0) == before
    finally:
        child.kill()
        child.wait()


SITE = "/srv/.venv/lib/python3.11/site-packages"
DATABASE_RAW = [
    # Where the database layer's samples end, one kind of work each, and two outside it.
    "run (asyncio/runners.py:118);rows (store/direct.py:280);_sqlite_fetch (store/direct.py:415) 4",
    f"run (asyncio/runners.py:118);execute ({SITE}/asyncpg/connection.py:350) 3",
    f"rows (store/direct.py:273);args (store/direct.py:188);"
    f"JSON._make_bind_processor.<locals>.process ({SITE}/sqlalchemy/sql/sqltypes.py:2974);"
    "dumps (json/__init__.py:231) 5",
    "insert (store/hotpath.py:311);_sqlite_text (store/types.py:79) 2",
    f"card (handlers/tickets.py:118);InstrumentedAttribute.__get__ ({SITE}/sqlalchemy/orm/attributes.py:568) 6",
    "attach (store/hotpath.py:343);_to_detached (store/hotpath.py:426) 1",
    f"_execute_context ({SITE}/sqlalchemy/engine/base.py:1837) 2",
    # A statement the session ran: its time goes with the ORM.
    f"Session.execute ({SITE}/sqlalchemy/orm/session.py:2555);"
    f"_execute_context ({SITE}/sqlalchemy/engine/base.py:1837) 3",
    "rows (store/direct.py:264);_held_connection (store/direct.py:401) 1",
    "search_text (store/knowledge_search.py:169);terms (store/segment.py:45) 3",
    "open_ticket (handlers/tickets.py:200);utcnow (store/types.py:97) 1",
    "route (handlers/tickets.py:12) 10",
    f"handle ({SITE}/uvicorn/h11.py:40) 2",
]


def test_the_database_layer_is_told_apart_by_the_kind_of_work() -> None:
    from benchmarks.profile_summary import (
        CONVERSION,
        DATABASE,
        DRIVER_WORK,
        KINDS,
        MAPPED,
        STATEMENTS,
        STORE_LOGIC,
        THROUGH_ORM,
        database_kinds,
        summarise,
    )

    kinds = database_kinds(DATABASE_RAW)
    assert {k: kinds[k] for k in KINDS} == {
        DRIVER_WORK: 7,
        CONVERSION: 7,
        MAPPED: 7,
        STATEMENTS: 6,
        STORE_LOGIC: 4,
    }
    # Every sample of the layer is of one kind, and none from outside it.
    samples, groups = summarise(DATABASE_RAW)
    assert sum(kinds[k] for k in KINDS) == sum(groups[g] for g in DATABASE) == samples - 12
    # The mapped objects' samples and the statements the session ran go with the ORM.
    assert kinds[THROUGH_ORM] == 7 + 3


def test_the_layer_without_a_kind_of_work_is_reported_as_its_floor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from benchmarks.profile_summary import MAPPED, STATEMENTS, THROUGH_ORM

    serve = _profile("embedded", "serve", {"SQLAlchemy": 30, "store (ours)": 20, "HTTP": 50}, 1.0)
    serve.kinds = Counter({MAPPED: 20, STATEMENTS: 30, THROUGH_ORM: 25})
    # Fifty of a hundred samples are the layer's; without the twenty of mapped objects, the
    # thirty left are 30 of the 80 samples that remain.
    assert serve.share_without(MAPPED) == 30 / 80
    monkeypatch.setattr(profile_burst, "run_mode", lambda mode, **_k: [serve])
    args = ["bench", "profile", "--messages", "50", "--out", str(tmp_path)]
    table = CliRunner().invoke(cli, args)
    assert table.exit_code == 0, table.output
    floors = [x for x in table.stdout.splitlines() if "the layer's share without" in x]
    # Without the ORM's 25 samples: 25 of the 75 left.
    assert [re.findall(r"\d+\.\d%", x) for x in floors] == [["37.5%"], ["33.3%"]]
    [mapped] = [x for x in table.stdout.splitlines() if x.strip("│ ").startswith(MAPPED)]
    assert "20.0%" in mapped
    rows = CliRunner().invoke(cli, [*args, "--json"]).stdout.splitlines()
    [row] = [json.loads(line) for line in rows if line.startswith("{")]
    assert row["database_kinds"] == {STATEMENTS: 0.3, THROUGH_ORM: 0.25, MAPPED: 0.2}
