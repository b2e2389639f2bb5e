"""A busy help channel for a minute (soak tier): nothing missed, nothing twice, Slack's pace kept.

`HELP_SOAK_RATE` posts a second (default 10) arrive in one help channel for
`HELP_SOAK_SECONDS` (default 60), signed like Slack signs them, some delivered twice. The
figures printed are what the database and the fake Slack Web API saw: tickets missing or
twice, 👀 missing or twice, the seconds from a post to its ticket and to its 👀, and the
answers in the threads, which leave at about one a second (the channel's limit) and so take
about as many seconds as there were posts. Not part of `make test`:

    HELP_SOAK_SECONDS=60 HELP_SOAK_RATE=10 .venv/bin/pytest -m soak -s \
        tests/e2e/test_slack_help_channels_soak.py
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.config import Settings
from store.models import Ticket
from tests.e2e.conftest import post_json, run

# The help-channel tests' fixtures (`fake`, `app_for`) are used here by name.
from tests.e2e.test_slack_help_channels import HELP, app_for, fake, post  # noqa: F401
from tests.fakes.slack_api import FakeSlackApi

pytestmark = [pytest.mark.soak]

SECONDS = float(os.environ.get("HELP_SOAK_SECONDS", "60"))
RATE = float(os.environ.get("HELP_SOAK_RATE", "10"))
PEOPLE = ("U0DAN", "U0ALICE", "U0CAROL", "U0FRANK")
THINGS = ("vpn", "printer", "outlook", "laptop screen", "wifi", "badge reader", "teams")


def _tickets(client: TestClient) -> list[tuple[str, datetime]]:
    """Each ticket's thread of origin (the post it was filed from) and when it was filed."""

    async def query(uow: Any) -> list[tuple[str, datetime]]:
        rows = await uow.session.scalars(select(Ticket))
        return [(str((t.origin or {}).get("thread")), t.created_at) for t in rows]

    return list(run(client, query))


def _tag(i: int) -> str:
    """A word unique to post `i`; digits would read as a ticket number ("case 100" is #100)."""
    letters = ""
    while True:
        i, rest = divmod(i, 26)
        letters = chr(ord("a") + rest) + letters
        if not i:
            return letters


def _wait(what: Callable[[], int], want: int, *, stall: float) -> int:
    """Poll until `what()` reaches `want`, or stops moving for `stall` seconds; the last count."""
    seen, moved = what(), time.monotonic()
    while seen < want and time.monotonic() - moved < stall:
        time.sleep(0.5)
        now = what()
        if now != seen:
            seen, moved = now, time.monotonic()
    return seen


def _quantiles(values: list[float]) -> str:
    if not values:
        return "none"
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"p50 {statistics.median(values):.2f} s, p99 {p99:.2f} s, max {values[-1]:.2f} s"


def test_a_busy_help_channel_for_a_minute(
    demo_settings: Settings,
    fake: FakeSlackApi,  # noqa: F811
    app_for: Callable[..., TestClient],  # noqa: F811
) -> None:
    client = app_for(demo_settings)
    total = int(SECONDS * RATE)
    bodies = [
        post(f"the {THINGS[i % len(THINGS)]} is broken again at desk {_tag(i)}", PEOPLE[i % 4], n=i)
        for i in range(total)
    ]
    posted_at: dict[str, tuple[float, datetime]] = {}
    refused = 0
    started = time.monotonic()
    for i, body in enumerate(bodies):
        time.sleep(max(0.0, started + i / RATE - time.monotonic()))
        ts = body["event"]["ts"]
        posted_at[ts] = (time.monotonic(), datetime.now(UTC))
        refused += post_json(client, body).status_code != 200
        if i % 20 == 7:
            # Slack delivers some events again (a slow acknowledgement, a lost one).
            refused += post_json(client, body, retry=1).status_code != 200
    posting = time.monotonic() - started

    _wait(lambda: len(_tickets(client)), total, stall=60)
    found = _tickets(client)
    per_post = Counter(thread for thread, _ in found)
    ticket_lag = [
        (at.replace(tzinfo=UTC) - posted_at[thread][1]).total_seconds()
        for thread, at in found
        if thread in posted_at
    ]

    eyes_calls = fake.calls_to("/api/reactions.add")
    eyes = Counter(ts for channel, ts, name in fake.reactions if name == "eyes")
    first_eyes: dict[str, float] = {}
    for call in eyes_calls:
        first_eyes.setdefault(str(fake.args(call)["timestamp"]), call.at)
    eyes_lag = [first_eyes[ts] - posted_at[ts][0] for ts in posted_at if ts in first_eyes]

    def answered() -> int:
        return len({p.thread_ts for p in fake.by_bot(HELP)})

    # The answers leave at the channel's pace: as many seconds as posts, give or take.
    _wait(answered, total, stall=30)
    threads = Counter(p.thread_ts for p in fake.by_bot(HELP))
    sent = sorted(
        c.at for c in fake.calls_to("/api/chat.postMessage") if fake.args(c)["channel"] == HELP
    )
    busiest = max(
        (sum(1 for t in sent[i:] if t - start < 10.0) for i, start in enumerate(sent)), default=0
    )
    pace = (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0

    figures = {
        "posts": total,
        "posting_seconds": round(posting, 1),
        # Posts go one after another: a slow acknowledgement on a busy machine lowers the rate.
        "posts_per_second": round(total / posting, 1),
        "refused": refused,
        "tickets_missing": sum(1 for ts in posted_at if per_post[ts] == 0),
        "tickets_twice": sum(1 for ts in posted_at if per_post[ts] > 1),
        "eyes_missing": sum(1 for ts in posted_at if eyes[ts] == 0),
        "eyes_twice": sum(1 for ts in posted_at if eyes[ts] > 1),
        "answers_missing": sum(1 for ts in posted_at if threads[ts] == 0),
        "answers_twice": sum(1 for ts in posted_at if threads[ts] > 1),
        "answers_per_second": round(pace, 2),
        "answers_in_busiest_10s": busiest,
    }
    print(f"\nhelp channel soak: {figures}")
    print(f"post → ticket: {_quantiles(ticket_lag)}")
    print(f"post → 👀: {_quantiles(eyes_lag)}")
    assert refused == 0
    for name in ("tickets", "eyes", "answers"):
        assert figures[f"{name}_missing"] == figures[f"{name}_twice"] == 0, figures
    # One a second with a burst of three (and a second of delivery jitter) in any ten.
    assert busiest <= 3 + 10 + 1, figures
