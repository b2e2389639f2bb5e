"""The agents' console over HTTP: sign in, queue, ticket actions, approvals, dashboard, live."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings, TelegramSettings
from bot.container import Overrides
from bot.web import console_live as console_routes
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import ChangeType, Priority, Status, TicketKind
from store.uow import UnitOfWork
from tests.e2e.test_telegram_webhook import SECRET, settle
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi, private_update

HTML = {"Accept": "text/html"}
CUSTOMER = 111111111


@pytest.fixture(scope="module")
def server() -> Iterator[FakeTelegramApi]:
    with FakeTelegramApi() as api:
        yield api


@pytest.fixture
def fake(server: FakeTelegramApi) -> FakeTelegramApi:
    server.reset()
    return server


def with_telegram(settings: Settings, fake: FakeTelegramApi) -> Settings:
    telegram = TelegramSettings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        secret_token=SECRET,
        api_url=fake.api_url,
    )
    return settings.model_copy(update={"telegram": telegram})


async def _token(settings: Settings, email: str) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            _, token = await uow.signins.issue(person)
            await uow.commit()
            return token
    finally:
        await engine.dispose()


async def _change(settings: Settings, requester: str) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(requester)
            assert person is not None
            t = await uow.tickets.create(
                kind=TicketKind.CHANGE,
                title="Restart the mail server",
                requester=person,
                status=Status.AWAITING_APPROVAL,
                change_type=ChangeType.NORMAL,
                planned_start=datetime.now(UTC) + timedelta(days=2),
            )
            await uow.commit()
            return t.ref
    finally:
        await engine.dispose()


def sign_in(client: TestClient, settings: Settings, email: str) -> None:
    client.cookies.clear()
    token = client.portal.call(_token, settings, email)  # type: ignore[union-attr]
    res = client.get(f"/signin/{token}", params={"next": "/console"}, follow_redirects=False)
    assert res.status_code == 303, res.text


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_agent_works_a_ticket_from_the_console(
    demo_settings: Settings, understander: Understander, fake: FakeTelegramApi
) -> None:
    settings = with_telegram(demo_settings, fake)
    app = create_app(settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        res = client.post(
            "/telegram/webhook",
            json=private_update(9001, "My laptop will not boot at all"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert res.status_code == 200
        fake.wait_sent(1)
        settle(client, settings)

        # Not signed in: the page sends the browser to sign in.
        res = client.get("/console", headers=HTML, follow_redirects=False)
        assert res.status_code == 303
        assert res.headers["location"].startswith("/signin")

        # A requester is refused.
        sign_in(client, settings, "alice@example.com")
        assert client.get("/console", headers=HTML).status_code == 403
        assert client.get("/console/tickets/INC-1", headers=HTML).status_code == 403

        sign_in(client, settings, "bob@example.com")
        queue = client.get("/console", headers=HTML)
        assert queue.status_code == 200
        assert "INC-1" in queue.text
        assert 'class="unassigned"' in queue.text
        assert client.get("/console?priority=P9", headers=HTML).status_code == 400
        assert "INC-1" not in client.get("/console?channel=slack", headers=HTML).text
        assert "INC-1" in client.get("/console?channel=telegram&assignee=none", headers=HTML).text

        page = client.get("/console/tickets/INC-1", headers=HTML)
        assert page.status_code == 200
        assert "My laptop will not boot at all" in page.text
        token = csrf(page.text)

        # Forms without the session's token are refused.
        res = client.post("/console/tickets/INC-1/take", data={}, headers=HTML)
        assert res.status_code == 403

        res = client.post(
            "/console/tickets/INC-1/take", data={"csrf_token": token}, follow_redirects=False
        )
        assert res.status_code == 303
        assert "INC-1" not in client.get("/console?assignee=none", headers=HTML).text
        assert "INC-1" in client.get("/console?assignee=me", headers=HTML).text

        res = client.post(
            "/console/tickets/INC-1/reply",
            data={"csrf_token": token, "text": "Hold the power button for 30 seconds."},
            follow_redirects=False,
        )
        assert res.status_code == 303
        deadline = time.monotonic() + 20
        reply: list[dict[str, Any]] = []
        while not reply and time.monotonic() < deadline:
            reply = [s for s in fake.sent() if "Hold the power button" in s["text"]]
            time.sleep(0.05)
        assert reply
        assert reply[0]["chat_id"] == str(CUSTOMER)

        res = client.post(
            "/console/tickets/INC-1/note",
            data={"csrf_token": token, "text": "Probably the battery"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        empty = client.post(
            "/console/tickets/INC-1/reply", data={"csrf_token": token, "text": "  "}, headers=HTML
        )
        assert empty.status_code == 400

        res = client.post(
            "/console/tickets/INC-1/resolve",
            data={"csrf_token": token, "text": "Battery replaced"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        page = client.get("/console/tickets/INC-1", headers=HTML)
        assert "Probably the battery" in page.text
        assert "Battery replaced" in page.text
        again = client.post(
            "/console/tickets/INC-1/resolve", data={"csrf_token": token}, headers=HTML
        )
        assert again.status_code == 409
        settle(client, settings)
        assert not [s for s in fake.sent() if "Probably the battery" in s["text"]]

        dash = client.get("/console/dashboard", headers=HTML)
        assert dash.status_code == 200
        assert dash.text.count("<svg") >= 5
        assert 'class="bar"' in dash.text


def test_approvals_wait_for_others_never_the_requester(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        ref = client.portal.call(_change, demo_settings, "carol@example.com")  # type: ignore[union-attr]

        sign_in(client, demo_settings, "carol@example.com")
        assert ref not in client.get("/console/approvals", headers=HTML).text
        page = client.get(f"/console/tickets/{ref}", headers=HTML)
        assert f"/console/tickets/{ref}/approve" not in page.text
        res = client.post(
            f"/console/tickets/{ref}/approve", data={"csrf_token": csrf(page.text)}, headers=HTML
        )
        assert res.status_code == 403

        sign_in(client, demo_settings, "bob@example.com")
        assert client.get("/console/approvals", headers=HTML).status_code == 403

        sign_in(client, demo_settings, "frank@example.com")
        assert ref in client.get("/console/approvals", headers=HTML).text
        page = client.get(f"/console/tickets/{ref}", headers=HTML)
        assert f"/console/tickets/{ref}/approve" in page.text
        res = client.post(
            f"/console/tickets/{ref}/approve",
            data={"csrf_token": csrf(page.text)},
            follow_redirects=False,
        )
        assert res.status_code == 303
        assert ref not in client.get("/console/approvals", headers=HTML).text
        assert "Approved" in client.get(f"/console/tickets/{ref}", headers=HTML).text


def test_live_stream_says_when_the_ticket_changes(
    demo_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_routes, "LIVE_LIFETIME_SECONDS", 1.0)
    app = create_app(demo_settings)
    with TestClient(app) as client:
        ref = client.portal.call(_change, demo_settings, "carol@example.com")  # type: ignore[union-attr]
        sign_in(client, demo_settings, "frank@example.com")
        with client.stream("GET", f"/console/tickets/{ref}/live?version=0") as res:
            assert res.status_code == 200
            assert res.headers["content-type"].startswith("text/event-stream")
            body = "".join(res.iter_text())
        assert "event: changed" in body
        assert f'"ref": "{ref}"' in body
        with client.stream("GET", f"/console/tickets/{ref}/live?version=1") as res:
            body = "".join(res.iter_text())
        assert "event: changed" not in body


async def _late_incident(settings: Settings) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            assert alice is not None
            opened = datetime.now(UTC) - timedelta(hours=2)
            t = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="Payroll export fails",
                requester=alice,
                priority=Priority.P2,
                created_at=opened,
                sla_name="standard",
                response_due_at=opened + timedelta(minutes=30),
                resolve_due_at=opened + timedelta(hours=8),
            )
            await uow.commit()
            return t.ref
    finally:
        await engine.dispose()


def test_queue_shows_service_level_colours(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        ref = client.portal.call(_late_incident, demo_settings)  # type: ignore[union-attr]
        sign_in(client, demo_settings, "erin@example.com")
        queue = client.get("/console", headers=HTML)
        assert queue.status_code == 200
        assert ref in queue.text
        assert "sla-breached" in queue.text
        assert "response breached" in queue.text
        page = client.get(f"/console/tickets/{ref}", headers=HTML)
        assert "sla-breached" in page.text
        zh = client.get("/console", headers={**HTML, "Accept-Language": "zh-CN"})
        assert "队列" in zh.text


def test_improvement_register_page(demo_settings: Settings) -> None:
    app = create_app(demo_settings)
    with TestClient(app) as client:
        sign_in(client, demo_settings, "frank@example.com")
        page = client.get("/console/improvements", headers=HTML)
        assert page.status_code == 200
        token = csrf(page.text)
        res = client.post(
            "/console/improvements",
            data={"csrf_token": token, "text": "Self-service VPN certificates"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        assert "Self-service VPN certificates" in client.get("/console/improvements").text
        # Approvers may propose; moving an idea is for agents.
        moved = client.post(
            "/console/improvements/1/stage",
            data={"csrf_token": token, "stage": "approved"},
            headers=HTML,
        )
        assert moved.status_code == 403

        sign_in(client, demo_settings, "bob@example.com")
        token = csrf(client.get("/console/improvements", headers=HTML).text)
        bad = client.post(
            "/console/improvements/1/stage",
            data={"csrf_token": token, "stage": "someday"},
            headers=HTML,
        )
        assert bad.status_code == 400
        res = client.post(
            "/console/improvements/1/stage",
            data={"csrf_token": token, "stage": "approved"},
            follow_redirects=False,
        )
        assert res.status_code == 303
        assert 'value="approved" selected' in client.get("/console/improvements").text
