"""Saved views in the console: each agent keeps named queue filters, lists and removes them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from tests.e2e.test_console_pages import HTML, csrf, sign_in


def _views(page: str) -> list[tuple[str, str]]:
    """(name, href) of the views listed on a queue page."""
    block = page.split('class="views"', 1)
    if len(block) < 2:
        return []
    found = re.findall(r'<a href="([^"]*)"[^>]*>([^<]+)</a>', block[1].split("</ul>", 1)[0])
    return [(name, href.replace("&amp;", "&")) for href, name in found]


def test_an_agent_saves_lists_and_removes_views(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        sign_in(client, demo_settings, "bob@example.com")
        first = client.get("/console?priority=P1&kind=incident&assignee=me&junk=1", headers=HTML)
        assert first.status_code == 200
        assert _views(first.text) == []
        # The filter form sends its empty fields too: empty means any.
        empty = "/console?group=&kind=&priority=&service=&channel=&assignee="
        assert client.get(empty, headers=HTML).status_code == 200
        assert client.get("/console?kind=gadget", headers=HTML).status_code == 400
        assert client.get("/console?service=-1", headers=HTML).status_code == 400
        # The form carries the filters in a fixed order, and nothing that is not a filter.
        assert 'name="query" value="kind=incident&amp;priority=P1&amp;assignee=me"' in first.text
        token = csrf(first.text)

        res = client.post(
            "/console/views",
            data={"csrf_token": token, "name": "  My P1s ", "query": "kind=incident&priority=P1"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        assert res.headers["location"] == "/console?kind=incident&priority=P1"
        client.post(
            "/console/views",
            data={"csrf_token": token, "name": "Unassigned", "query": "?assignee=none&evil=1"},
        )
        listed = _views(client.get("/console", headers=HTML).text)
        assert listed == [
            ("My P1s", "/console?kind=incident&priority=P1"),
            ("Unassigned", "/console?assignee=none"),
        ]

        # The same name replaces the view.
        client.post(
            "/console/views", data={"csrf_token": token, "name": "My P1s", "query": "priority=P2"}
        )
        page = client.get("/console", headers=HTML).text
        assert ("My P1s", "/console?priority=P2") in _views(page)
        assert len(_views(page)) == 2

        # Another agent sees none of them and cannot remove them.
        view_id = re.search(r'action="/console/views/(\d+)/remove"', page)
        assert view_id is not None
        sign_in(client, demo_settings, "carol@example.com")
        other = client.get("/console", headers=HTML).text
        assert _views(other) == []
        res = client.post(
            f"/console/views/{view_id.group(1)}/remove", data={"csrf_token": csrf(other)}
        )
        assert res.status_code == 404

        sign_in(client, demo_settings, "bob@example.com")
        page = client.get("/console", headers=HTML).text
        res = client.post(
            f"/console/views/{view_id.group(1)}/remove",
            data={"csrf_token": csrf(page)},
            follow_redirects=False,
        )
        assert res.status_code == 303
        assert [n for n, _ in _views(client.get("/console", headers=HTML).text)] == ["Unassigned"]


def test_bad_view_input_is_refused(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        sign_in(client, demo_settings, "bob@example.com")
        token = csrf(client.get("/console", headers=HTML).text)
        assert (
            client.post("/console/views", data={"csrf_token": token, "name": " "}).status_code
            == 400
        )
        assert (
            client.post("/console/views", data={"csrf_token": token, "name": "x" * 81}).status_code
            == 400
        )
        assert client.post("/console/views", data={"name": "no token"}).status_code == 403
        res = client.post("/console/views/0/remove", data={"csrf_token": token})
        assert res.status_code == 400
        sign_in(client, demo_settings, "alice@example.com")
        assert client.post("/console/views", data={"name": "requester"}).status_code == 403
