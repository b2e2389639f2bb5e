"""Improvement KPIs and the bot's suggestions in the console over HTTP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from tests.e2e.test_console_pages import HTML, csrf, sign_in


def _row(page: str, number: int) -> str:
    found = re.search(rf'<tr data-idea="{number}">(.*?)</tr>', page, re.S)
    assert found is not None
    return found.group(1)


def test_an_idea_gets_a_kpi_and_the_bot_suggests(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        sign_in(client, demo_settings, "bob@example.com")
        token = csrf(client.get("/console/improvements", headers=HTML).text)
        client.post("/console/improvements", data={"csrf_token": token, "text": "idea: auto-reset"})

        def measure(**data: str) -> int:
            res = client.post(
                "/console/improvements/1/kpi",
                data={"csrf_token": token, **data},
                follow_redirects=False,
            )
            return res.status_code

        assert measure(kpi="mtta_minutes", baseline="30", target="10") == 303
        row = _row(client.get("/console/improvements", headers=HTML).text, 1)
        assert "Mean time to acknowledge" in row
        assert "then 30.00" in row
        assert "target 10.00" in row
        assert "now no data" in row  # nothing acknowledged in the demo desk

        assert measure(kpi="tickets_created", target="1") == 400
        assert measure(kpi="mtta_minutes", target="soon") == 400
        assert measure(kpi="mtta_minutes", baseline="nan", target="1") == 400
        assert measure(kpi="mtta_minutes") == 400
        res = client.post(
            "/console/improvements/99/kpi",
            data={"csrf_token": token, "kpi": "mtta_minutes", "target": "1"},
        )
        assert res.status_code == 404

        res = client.post(
            "/console/improvements/suggest", data={"csrf_token": token}, follow_redirects=False
        )
        assert res.status_code == 303
        assert res.headers["location"].startswith("/console/improvements?suggested=")
        assert 'id="suggested"' in client.get(res.headers["location"], headers=HTML).text

        sign_in(client, demo_settings, "frank@example.com")  # an approver, not an agent
        other = csrf(client.get("/console/improvements", headers=HTML).text)
        res = client.post(
            "/console/improvements/1/kpi",
            data={"csrf_token": other, "kpi": "mtta_minutes", "target": "1"},
        )
        assert res.status_code == 403
        res = client.post("/console/improvements/suggest", data={"csrf_token": other})
        assert res.status_code == 403
