"""The portal in a real headless Chromium: sign in by link, raise a request with a knowledge
suggestion on the way, see it among my tickets, open it, comment on it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.config import Settings
from tests.integration.procs import environment, free_port, processes, start, wait_healthy

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.browser
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium_path() -> str:
    if CHROMIUM is None:
        if os.environ.get("SWITCHBOARD_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail("Chromium was required (SWITCHBOARD_REQUIRE_BROWSER=1) but not found")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def server(demo_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    with processes(tmp_path) as running:
        proc = start(
            ["serve", "--port", str(port)], environment(demo_settings), tmp_path / "serve.log"
        )
        running.append(proc)
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}", port


def signin_link(settings: Settings, port: int, email: str) -> str:
    result = CliRunner().invoke(
        cli,
        ["signin-link", "--as", email],
        env={"DATABASE_URL": settings.database_url, "PORT": str(port)},
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_portal_in_the_browser(
    server: tuple[str, int], demo_settings: Settings, chromium_path: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, port = server
    link = signin_link(demo_settings, port, "alice@example.com")
    assert link.startswith(f"{base}/signin/")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=ARGS)
        try:
            page = browser.new_page(locale="en-US")
            page.goto(f"{base}/portal")
            expect(page.locator("h1")).to_have_text("Sign in")  # not signed in yet
            page.goto(link)
            expect(page.locator("h1")).to_have_text("My tickets")
            expect(page.locator("main")).to_contain_text("You have no tickets yet.")
            # Keyboard first: the first Tab reaches the skip link, which lands on the content.
            page.keyboard.press("Tab")
            expect(page.locator("a.skip")).to_be_focused()
            page.keyboard.press("Enter")
            expect(page.locator("main")).to_be_focused()

            page.get_by_role("link", name="New request").first.click()
            page.get_by_label("I need something (service request)").check()
            page.get_by_label("Subject").press_sequentially("set up the vpn on my phone", delay=20)
            suggestion = page.locator("#suggestions a").first
            expect(suggestion).to_have_text("Set up the VPN on a laptop or phone", timeout=10_000)
            # The article does not answer this one: back to the form, which kept its words.
            suggestion.click()
            expect(page.locator("h1")).to_have_text("Set up the VPN on a laptop or phone")
            page.get_by_role("link", name="No, back to my request").click()
            expect(page.get_by_label("Subject")).to_have_value("set up the vpn on my phone")
            page.get_by_label("Subject").fill("A VPN token for my new phone")
            page.get_by_label("Description").fill("The old phone was lost.")
            page.get_by_role("button", name="Submit").click()
            expect(page.locator("h1")).to_contain_text("REQ-1", timeout=30_000)

            page.get_by_role("link", name="My tickets").click()
            row = page.locator("table tbody tr").first
            expect(row).to_contain_text("REQ-1")
            row.get_by_role("link", name="REQ-1").click()
            expect(page.locator(".timeline")).to_contain_text("The old phone was lost.")

            page.get_by_label("Your comment").fill("I can pick it up on Monday.")
            page.get_by_role("button", name="Send comment").click()
            expect(page.get_by_role("status")).to_have_text("Your comment was added.")
            expect(page.locator(".timeline")).to_contain_text("I can pick it up on Monday.")

            page.get_by_role("button", name="Sign out").click()
            expect(page.locator("main")).to_contain_text("You have signed out.")
            page.goto(link)  # a used link says so
            expect(page.locator("main")).to_contain_text("already been used")
        finally:
            browser.close()


def test_ordering_from_the_catalog_in_the_browser(
    server: tuple[str, int], demo_settings: Settings, chromium_path: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.test_catalog_api import DESK

    base, port = server
    desk = tmp_path / "desk.yml"
    desk.write_text(DESK, "utf-8")
    loaded = CliRunner().invoke(
        cli, ["import", str(desk)], env={"DATABASE_URL": demo_settings.database_url}
    )
    assert loaded.exit_code == 0, loaded.output
    link = signin_link(demo_settings, port, "alice@example.com")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path, headless=True, args=ARGS)
        try:
            page = browser.new_page(locale="en-US")
            page.goto(link)
            page.get_by_role("link", name="Order").click()
            expect(page.locator("h1")).to_have_text("Order from the catalog")
            page.get_by_role("link", name="New laptop").click()
            expect(page.locator("h1")).to_have_text("New laptop")
            page.get_by_label("Which model").select_option("16-inch")
            page.get_by_label("Needed by").fill("2026-12-24")
            page.get_by_role("button", name="Place the order").click()
            expect(page.locator("h1")).to_contain_text("REQ-1", timeout=30_000)
            expect(page.locator("main")).to_contain_text("16-inch")
        finally:
            browser.close()
