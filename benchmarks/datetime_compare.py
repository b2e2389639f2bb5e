"""`nlu/datetimes.py` against `dateparser` on the same change-window phrases, both languages.

    .venv/bin/python benchmarks/datetime_compare.py [--json]

Every phrase is resolved against Thursday 26 November 2026, 10:00 UTC (the instant of the unit
tests). A phrase counts as resolved when the first datetime found equals the expected one to
the minute; a phrase with no time in it counts as right when nothing is found. dateparser is
asked with `search_dates`, preferring future dates, in the phrase's language.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlu.datetimes import find_datetimes  # noqa: E402
from nlu.language import detect_language  # noqa: E402

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)

CASES: list[tuple[str, str | None]] = [
    # The phrases of tests/unit/nlu/test_nlu_entities.py.
    ("upgrade the firewall Saturday 22:00", "2026-11-28T22:00"),
    ("patch the servers tonight", "2026-11-26T20:00"),
    ("deploy tomorrow 9am", "2026-11-27T09:00"),
    ("restart the cluster next Monday at 6", "2026-11-30T18:00"),
    ("reboot at 22:00 on Friday", "2026-11-27T22:00"),
    ("window 2026-12-01 22:00", "2026-12-01T22:00"),
    ("network work on Dec 3 at 6pm", "2026-12-03T18:00"),
    ("周六晚上10点升级防火墙", "2026-11-28T22:00"),
    ("明天上午十点半发布", "2026-11-27T10:30"),
    ("下周一早上9点重启", "2026-11-30T09:00"),
    ("今晚打补丁", "2026-11-26T20:00"),
    ("I sat down and the sun came out", None),
    ("it's at 10 percent", None),
    # Thirty more, fifteen in each language.
    ("reboot the router at 23:30", "2026-11-26T23:30"),
    ("maintenance tomorrow at 7am", "2026-11-27T07:00"),
    ("can we do it Friday 14:00", "2026-11-27T14:00"),
    ("deploy on Sunday at 8pm", "2026-11-29T20:00"),
    ("schedule the restart in 2 hours", "2026-11-26T12:00"),
    ("failover in 30 minutes", "2026-11-26T10:30"),
    ("upgrade on 2026-12-05", "2026-12-05T09:00"),
    ("patch window Dec 10 at 10pm", "2026-12-10T22:00"),
    ("next Tuesday at 9am", "2026-12-01T09:00"),
    ("can you do it tomorrow", "2026-11-27T09:00"),
    ("on Wednesday at 3", "2026-12-02T15:00"),
    ("at 9pm tonight", "2026-11-26T21:00"),
    ("failover test on December 12th at 18:00", "2026-12-12T18:00"),
    ("swap the disks this Saturday at noon", "2026-11-28T12:00"),
    ("migrate the mailbox on 5 December at 8am", "2026-12-05T08:00"),
    ("明天下午3点重启服务器", "2026-11-27T15:00"),
    ("后天早上8点升级", "2026-11-28T08:00"),
    ("周五晚上9点切换", "2026-11-27T21:00"),
    ("今天下午五点半维护", "2026-11-26T17:30"),
    ("下周三上午10点发布", "2026-12-02T10:00"),
    ("星期天晚上11点停机", "2026-11-29T23:00"),
    ("12月5日晚上10点变更", "2026-12-05T22:00"),
    ("明早9点处理", "2026-11-27T09:00"),
    ("今晚11点打补丁", "2026-11-26T23:00"),
    ("周六上午十点迁移", "2026-11-28T10:00"),
    ("两小时后重启", "2026-11-26T12:00"),
    ("变更窗口2026-12-01 22:00", "2026-12-01T22:00"),
    ("下周一处理", "2026-11-30T09:00"),
    ("明天中午12点上线", "2026-11-27T12:00"),
    ("礼拜五下午两点开会", "2026-11-27T14:00"),
]


def rules(text: str) -> str | None:
    """The first datetime of `nlu/datetimes.py`."""
    found = find_datetimes(text, NOW)
    return found[0].value.strftime("%Y-%m-%dT%H:%M") if found else None


def dateparser_first(text: str) -> str | None:
    """The first datetime `dateparser.search.search_dates` finds."""
    from dateparser.search import search_dates

    settings = {
        "RELATIVE_BASE": NOW.replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = search_dates(text, languages=[detect_language(text)], settings=settings)
    return found[0][1].strftime("%Y-%m-%dT%H:%M") if found else None


def score(resolve: Callable[[str], str | None]) -> dict[str, object]:
    """Right answers per language and the time per phrase."""
    right = {"en": 0, "zh": 0}
    total = {"en": 0, "zh": 0}
    timings = []
    misses = []
    for text, expected in CASES:
        start = time.perf_counter()
        got = resolve(text)
        timings.append((time.perf_counter() - start) * 1000)
        language = detect_language(text)
        total[language] += 1
        if got == expected:
            right[language] += 1
        else:
            misses.append({"text": text, "expected": expected, "got": got})
    return {
        "right": sum(right.values()),
        "total": len(CASES),
        "right_en": f"{right['en']}/{total['en']}",
        "right_zh": f"{right['zh']}/{total['zh']}",
        "ms_median": round(statistics.median(timings), 3),
        "misses": misses,
    }


def main() -> None:
    """Score each resolver on every phrase; print a table and each one's misses, or JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    dateparser_first("warm up tomorrow at 9")  # its first call loads language data
    results = {
        "nlu/datetimes.py": score(rules),
        "dateparser": score(dateparser_first),
        "rules, dateparser as fallback": score(lambda t: rules(t) or dateparser_first(t)),
    }
    if args.json:
        print(json.dumps(results, ensure_ascii=False))
        return
    table = Table(title=f"Datetimes, {len(CASES)} phrases")
    for column in ("resolver", "right", "English", "Chinese", "ms / phrase"):
        table.add_column(column)
    for name, r in results.items():
        table.add_row(
            name, f"{r['right']}/{r['total']}", str(r["right_en"]), str(r["right_zh"]),
            str(r["ms_median"]),
        )  # fmt: skip
    console = Console()
    console.print(table)
    for name, r in results.items():
        console.print(f"[bold]{name}[/] misses:")
        for miss in r["misses"]:  # type: ignore[attr-defined]
            console.print(f"  {miss['text']!r}: expected {miss['expected']}, got {miss['got']}")


if __name__ == "__main__":
    main()
