"""`/metrics` serves the desk's figures beside the process counters."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot.app import create_app
from bot.config import Settings


def test_a_scrape_carries_the_desk_figures(demo_settings: Settings) -> None:
    with TestClient(create_app(demo_settings)) as client:
        res = client.get("/metrics")
    assert res.status_code == 200
    names = {f.name for f in text_string_to_metric_families(res.text)}
    assert {"switchboard_inbox_events", "switchboard_desk_backlog_open"} <= names
    assert "switchboard_desk_deflections" in names
