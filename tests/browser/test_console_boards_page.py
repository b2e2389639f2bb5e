"""New console and portal pages in a real headless Chromium: saved views, the change calendar,
the major-incident board, improvement KPIs, the portal's status page, and a live update that
crosses from one web process to another through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from store.db import create_engine, session_factory
from store.uow import UnitOfWork
from tests.browser.test_console_page import CHROMIUM, _prepare, chromium_path  # noqa: F401
from tests.e2e.test_console_boards import _desk
from tests.integration.procs import environment, free_port, processes, start, wait_healthy

pytestmark = pytest.mark.browser
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


async def _requester_token(settings: Settings) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            assert alice is not None
            _, token = await uow.signins.issue(alice)
            await uow.commit()
            return token
    finally:
        await engine.dispose()


@pytest.fixture
def server(demo_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    tokens = asyncio.run(_prepare(demo_settings))
    tokens["alice@example.com"] = asyncio.run(_requester_token(demo_settings))
    asyncio.run(_desk(demo_settings))
    port = free_port()
    with processes(tmp_path) as running:
        proc = start(
            ["serve", "--port", str(port)], environment(demo_settings), tmp_path / "serve.log"
        )
        running.append(proc)
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}", tokens


def _browser(pw: Any, path: str) -> Any:
    return pw.chromium.launch(executable_path=path, headless=True, args=ARGS)


def test_views_calendar_majors_kpis_and_the_status_page(
    server: tuple[str, dict[str, str]],
    chromium_path: str,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, tokens = server
    with sync_playwright() as pw:
        browser = _browser(pw, chromium_path)
        try:
            page = browser.new_page()
            page.goto(f"{base}/signin/{tokens['grace@example.com']}?next=/console")
            # Filter the queue, save the filter as a view, come back to it from the list.
            page.select_option("select[name=kind]", "change")
            page.get_by_role("button", name="Apply").click()
            page.fill("#view-name", "Changes")
            page.click("#save-view")
            page.goto(f"{base}/console")
            page.locator("ul.views a", has_text="Changes").click()
            expect(page).to_have_url(f"{base}/console?kind=change")
            expect(page.locator("table.queue")).to_contain_text("CHG-")
            page.get_by_role("button", name="Remove the view Changes").click()
            expect(page.locator("ul.views")).to_have_count(0)

            page.get_by_role("link", name="Change calendar").click()
            page.goto(f"{base}/console/changes?from=2027-03-01&weeks=1")
            expect(page.locator("tr.clash")).to_have_count(2)

            page.get_by_role("link", name="Major incidents").click()
            major = page.locator("article.major.open")
            expect(major).to_contain_text("Failover started, next update 14:30")
            expect(major.locator("ul.reports")).to_contain_text("cannot connect from home")

            page.get_by_role("link", name="Improvements").click()
            page.fill("#idea-text", "idea: answer password resets in Slack")
            page.click("#add-idea")
            row = page.locator("tr[data-idea]").first
            row.locator("summary").click()
            row.locator("select[name=kpi]").select_option("mttr_minutes")
            row.locator("input[name=baseline]").fill("120")
            row.locator("input[name=target]").fill("60")
            row.get_by_role("button", name="Save measure").click()
            expect(page.locator("tr[data-idea] .kpi-then").first).to_have_text("then 120.00")

            # The requester's portal says which service is down, and nothing more.
            portal = browser.new_context().new_page()
            portal.goto(f"{base}/signin/{tokens['alice@example.com']}?next=/portal/status")
            expect(portal.locator("#overall")).to_have_text("1 major incident(s) in progress.")
            expect(portal.locator("article.status-entry.ongoing")).to_contain_text("VPN")
        finally:
            browser.close()


async def _tokens_only(settings: Settings) -> dict[str, str]:
    return await _prepare(settings)


@pytest.mark.integration
def test_a_change_on_one_web_process_reaches_a_page_served_by_another(
    scaled_settings: Settings,
    tmp_path: Path,
    chromium_path: str,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    tokens = asyncio.run(_tokens_only(scaled_settings))
    env = environment(scaled_settings)
    ports = [free_port(), free_port()]
    with processes(tmp_path) as running:
        for n, port in enumerate(ports):
            proc = start(["web", "--port", str(port)], env, tmp_path / f"web{n}.log")
            running.append(proc)
            wait_healthy(port, proc)
        running.append(start(["worker"], env, tmp_path / "worker.log"))
        one, two = (f"http://127.0.0.1:{p}" for p in ports)
        with sync_playwright() as pw:
            browser = _browser(pw, chromium_path)
            try:
                watcher = browser.new_context().new_page()
                watcher.goto(
                    f"{one}/signin/{tokens['grace@example.com']}?next=/console/tickets/CHG-1"
                )
                expect(watcher.locator("#status")).to_have_text("Waiting for approval")
                expect(watcher.locator("#live")).to_be_hidden()

                approver = browser.new_context().new_page()
                approver.goto(
                    f"{two}/signin/{tokens['frank@example.com']}?next=/console/tickets/CHG-1"
                )
                approver.get_by_role("button", name="Approve").click()
                expect(approver.locator("#status")).to_have_text("Approved")

                # Web process one hears of it through Redis, with no reload and no polling.
                expect(watcher.locator("#live")).to_be_visible(timeout=15_000)
                expect(watcher.locator("#status")).to_have_text("Approved")
            finally:
                browser.close()
