"""The web chat page in a real headless Chromium: type a report, see the ticket reference."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
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


@pytest.fixture
def server(demo_settings: Settings, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with processes(tmp_path) as running:
        proc = start(
            ["serve", "--port", str(port)], environment(demo_settings), tmp_path / "serve.log"
        )
        running.append(proc)
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}"


def test_report_in_the_browser(server: str, chromium_path: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(server)
            expect(page.locator("h1")).to_have_text("IT service desk")
            page.fill("#input", "The VPN is down and I cannot connect from home")
            page.click("#send")
            expect(page.locator(".bubble.mine")).to_have_text(
                "The VPN is down and I cannot connect from home"
            )
            card = page.locator(".reply .card .ref").first
            expect(card).to_have_text("INC-1", timeout=30_000)
            expect(page.locator(".reply").first).to_contain_text("I've logged INC-1")

            page.fill("#input", "what's the status of INC-1?")
            page.press("#input", "Enter")
            expect(page.locator(".reply").nth(1)).to_contain_text("INC-1 is new", timeout=30_000)
            # A reload keeps the visitor and shows the conversation's replies again.
            page.reload()
            expect(page.locator(".reply .card .ref").first).to_have_text("INC-1", timeout=30_000)
        finally:
            browser.close()
