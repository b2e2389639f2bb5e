"""Web chat through the whole pipeline: the JSON API in, replies read back from the page's API."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander


def wait_replies(
    client: TestClient, token: str, after: int, count: int = 1
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while len(got) < count and time.monotonic() < deadline:
        res = client.get(
            "/webchat/replies",
            params={"after": after, "wait": 2},
            headers={"X-Webchat-Token": token},
        )
        assert res.status_code == 200
        batch = res.json()["replies"]
        got += batch
        if batch:
            after = batch[-1]["id"]
    return got


def say(client: TestClient, token: str, text: str) -> int:
    res = client.post(
        "/webchat/messages",
        json={"id": uuid.uuid4().hex, "text": text},
        headers={"X-Webchat-Token": token},
    )
    assert res.status_code == 202, res.text
    return res.status_code


def test_webchat_report_and_follow(any_settings: Settings, understander: Understander) -> None:
    app = create_app(any_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert 'id="messages"' in page.text
        token = client.post("/webchat/session").json()["token"]

        say(client, token, "email is not working for me, outlook keeps crashing")
        [reply] = wait_replies(client, token, 0)
        assert reply["ticket_ref"] == "INC-1"
        assert reply["card"]["ref"] == "INC-1"

        say(client, token, "what's the status of INC-1")
        [status] = wait_replies(client, token, reply["id"])
        assert "INC-1" in status["text"]


def test_webchat_rejects_forged_and_malformed(
    demo_settings: Settings, understander: Understander
) -> None:
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        token = client.post("/webchat/session").json()["token"]
        visitor = token.split(".")[0]
        forged = f"{visitor}.{'0' * 32}"
        res = client.post(
            "/webchat/messages", json={"id": "1", "text": "hi"}, headers={"X-Webchat-Token": forged}
        )
        assert res.status_code == 401
        res = client.post(
            "/webchat/messages", content=b"{not json", headers={"X-Webchat-Token": token}
        )
        assert res.status_code == 400
        res = client.post(
            "/webchat/messages", json={"id": "1", "text": ""}, headers={"X-Webchat-Token": token}
        )
        assert res.status_code == 400
        big = b'{"id": "1", "text": "' + b"a" * (1024 * 1024) + b'"}'
        res = client.post("/webchat/messages", content=big, headers={"X-Webchat-Token": token})
        assert res.status_code == 413


def test_redelivered_message_makes_one_ticket(
    demo_settings: Settings, understander: Understander
) -> None:
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        token = client.post("/webchat/session").json()["token"]
        body = {"id": "same-id", "text": "the printer on floor 2 is broken"}
        statuses = []
        for _ in range(3):
            res = client.post("/webchat/messages", json=body, headers={"X-Webchat-Token": token})
            statuses.append(res.json()["status"])
        assert statuses == ["accepted", "duplicate", "duplicate"]
        replies = wait_replies(client, token, 0)
        time.sleep(0.5)
        replies += wait_replies(client, token, replies[-1]["id"], count=0)
        assert [r["ticket_ref"] for r in replies] == ["INC-1"]
