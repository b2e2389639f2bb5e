"""The agents' console in a real headless Chromium: sign in, take, reply, resolve, dashboard."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from channels.conversation import Address
from store.db import create_engine, session_factory
from store.enums import Level, Priority, TicketKind
from store.uow import UnitOfWork
from tests.integration.procs import environment, free_port, processes, start, wait_healthy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser


@pytest.fixture
def chromium_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("SWITCHBOARD_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail("Chromium was required (SWITCHBOARD_REQUIRE_BROWSER=1) but not found")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


async def _prepare(settings: Settings) -> str:
    """An unassigned incident raised by Alice in web chat, and a sign-in link for Bob."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            bob = await uow.people.by_email("bob@example.com")
            assert alice is not None
            assert bob is not None
            origin = Address(channel="webchat", conversation="w1", user="w1")
            await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="The projector in room 4 shows no picture",
                requester=alice,
                priority=Priority.P3,
                impact=Level.LOW,
                urgency=Level.MEDIUM,
                origin=origin.to_dict(),
            )
            _, token = await uow.signins.issue(bob)
            await uow.commit()
            return token
    finally:
        await engine.dispose()


@pytest.fixture
def server(demo_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    token = asyncio.run(_prepare(demo_settings))
    port = free_port()
    with processes(tmp_path) as running:
        proc = start(
            ["serve", "--port", str(port)], environment(demo_settings), tmp_path / "serve.log"
        )
        running.append(proc)
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}", token


def test_pick_up_reply_resolve_and_see_the_dashboard(
    server: tuple[str, str], chromium_path: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/signin/{token}?next=/console")
            row = page.locator("table.queue tr.unassigned", has_text="INC-1")
            expect(row).to_be_visible()
            row.locator("a", has_text="INC-1").click()
            expect(page.locator("h1")).to_contain_text("INC-1")

            page.click("#take")
            expect(page.locator("#assignee")).to_have_text("Bob Agent")

            page.fill("#reply-text", "A technician is on the way to room 4.")
            page.click("#send-reply")
            expect(page.locator("ol.timeline")).to_contain_text(
                "A technician is on the way to room 4."
            )

            page.fill("#resolve-text", "Replaced the HDMI cable.")
            page.click("#resolve")
            expect(page.locator("#status")).to_have_text("Resolved")

            page.goto(f"{base}/console/dashboard")
            expect(page.locator("h1")).to_be_visible()
            bars = page.locator("figure#volume-channel svg rect.bar")
            expect(bars.first).to_be_visible()
            assert bars.count() >= 1
            assert page.locator("figure svg rect.bar").count() >= 4
        finally:
            browser.close()
