"""`/portal/catalog`: the items a person may order, each with its form, checked as in chat."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import Status
from store.uow import UnitOfWork
from tests.e2e.test_catalog_api import DESK
from tests.e2e.test_cmdb_api import load

HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in_link(settings: Settings, email: str) -> str:
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


async def status_of(settings: Settings, ref: str) -> tuple[Status, str | None]:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            ticket = await uow.tickets.by_ref(ref)
            assert ticket is not None
            return ticket.status, ticket.catalog_item
    finally:
        await engine.dispose()


def test_ordering_from_the_portal(
    demo_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    token = asyncio.run(sign_in_link(demo_settings, "alice@example.com"))
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert (
            client.get("/portal/catalog", headers=HTML, follow_redirects=False).status_code == 303
        )
        client.get(f"/signin/{token}")

        listed = client.get("/portal/catalog", headers=HTML)
        assert listed.status_code == 200
        assert "New laptop" in listed.text
        assert "Headset" in listed.text
        assert "Server access" not in listed.text  # agents only
        assert client.get("/portal/catalog/Server access", headers=HTML).status_code == 404

        form = client.get("/portal/catalog/laptop", headers=HTML)  # an alias finds it
        assert form.status_code == 200
        assert '<select id="field-model" name="model" required' in form.text
        assert 'type="date"' in form.text
        assert "The finance-approvers group approves it." in form.text
        csrf = CSRF.search(form.text)
        assert csrf

        forged = client.post(
            "/portal/catalog/New laptop",
            data={"model": "14-inch", "needed_by": "2026-12-24"},
            follow_redirects=False,
        )
        assert forged.status_code == 403

        wrong = client.post(
            "/portal/catalog/New laptop",
            data={"model": "32-inch", "needed_by": "someday", "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert wrong.status_code == 400
        assert 'aria-invalid="true"' in wrong.text
        assert "must be one of: 14-inch, 16-inch" in wrong.text
        assert "must be a date" in wrong.text
        assert 'value="someday"' in wrong.text  # what was typed stays

        placed = client.post(
            "/portal/catalog/New laptop",
            data={"model": "16-inch", "needed_by": "2026-12-24", "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert placed.status_code == 303
        ref = placed.headers["location"].rsplit("/", 1)[-1]
        assert ref.startswith("REQ-")
        assert asyncio.run(status_of(demo_settings, ref)) == (
            Status.AWAITING_APPROVAL,
            "New laptop",
        )
        mine = client.get(f"/portal/tickets/{ref}", headers=HTML)
        assert mine.status_code == 200
        assert "16-inch" in mine.text


CHAIN_DESK = """
groups:
  - {name: hardware, members: [bob@example.com]}
  - {name: security, members: [frank@example.com, carol@example.com]}
catalog:
  - name: Database access
    fields: [{name: database, label: Which database}]
    approvals:
      - {by: group, group: security, quorum: 2}
      - {by: group, group: hardware}
    fulfilment:
      group: hardware
      tasks:
        - {name: Create the account, group: hardware}
        - {name: Send the credentials, group: hardware}
"""


async def decide(settings: Settings, email: str, ref: str) -> None:
    """Approve `ref` as `email`, as the Approve button does."""
    from datetime import UTC, datetime

    from channels.conversation import Address
    from handlers import catalog
    from handlers.context import HandlerContext
    from nlu.types import IntentName, Understanding

    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            ctx = HandlerContext(
                uow=uow,
                person=person,
                address=Address(channel="console", conversation=email, user=email),
                now=datetime.now(UTC),
                params={"ref": ref},
                via_action=True,
            )
            nlu = Understanding(text="", intent=IntentName.APPROVE, confidence=1.0)
            await catalog.approve_request(nlu, ctx)
            await uow.commit()
    finally:
        await engine.dispose()


def test_the_portal_shows_a_requests_approval_steps_and_tasks(
    demo_settings: Settings, understander: Understander, tmp_path: Path
) -> None:
    desk = tmp_path / "desk.yml"
    desk.write_text(CHAIN_DESK, "utf-8")
    asyncio.run(load(demo_settings, desk))
    token = asyncio.run(sign_in_link(demo_settings, "alice@example.com"))
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        client.get(f"/signin/{token}")
        form = client.get("/portal/catalog/Database access", headers=HTML)
        csrf = CSRF.search(form.text)
        assert csrf
        placed = client.post(
            "/portal/catalog/Database access",
            data={"database": "payroll", "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        ref = placed.headers["location"].rsplit("/", 1)[-1]

        def shown(lang: str = "en") -> str:
            page = client.get(f"/portal/tickets/{ref}", headers={**HTML, "Accept-Language": lang})
            assert page.status_code == 200
            return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())

        text = shown()
        assert "Approvals" in text
        assert "Step 1: 2 of the security group · 0 of 2 approval(s) · Waiting for a decision" in (
            text
        )
        assert "Step 2: the hardware group · 0 of 1 approval(s) · After the step before" in text
        assert "Fulfilment tasks" not in text

        asyncio.run(decide(demo_settings, "frank@example.com", ref))
        text = shown()
        assert "1 of 2 approval(s) · Waiting for a decision" in text
        asyncio.run(decide(demo_settings, "carol@example.com", ref))
        asyncio.run(decide(demo_settings, "bob@example.com", ref))
        text = shown()
        assert "Step 1: 2 of the security group · 2 of 2 approval(s) · Approved" in text
        assert "Step 2: the hardware group · 1 of 1 approval(s) · Approved" in text
        assert "Create the account · hardware · In progress" in text
        assert "Send the credentials · hardware · Waiting for an earlier task" in text
        zh = shown("zh")
        assert "交付任务" in zh
        assert "进行中" in zh

        # Another person's request is not shown to them, steps or not.
        other = asyncio.run(sign_in_link(demo_settings, "dan@example.com"))
        client.cookies.clear()
        client.get(f"/signin/{other}")
        assert client.get(f"/portal/tickets/{ref}", headers=HTML).status_code == 404
