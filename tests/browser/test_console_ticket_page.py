"""The console ticket page in a real headless Chromium: link to a problem, hand to a supplier."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from store.db import create_engine, session_factory
from store.enums import Priority, TicketKind
from store.models import Supplier
from store.uow import UnitOfWork
from tests.browser.test_console_page import chromium_path  # noqa: F401  # a fixture
from tests.integration.procs import environment, free_port, processes, start, wait_healthy

pytestmark = pytest.mark.browser


async def _prepare(settings: Settings) -> dict[str, str]:
    """An incident on VPN, a problem, a supplier, and Bob's sign-in link."""
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            alice = await uow.people.by_email("alice@example.com")
            bob = await uow.people.by_email("bob@example.com")
            vpn = await uow.cmdb.by_name("VPN")
            assert alice is not None
            assert bob is not None
            assert vpn is not None
            inc = await uow.tickets.create(
                kind=TicketKind.INCIDENT,
                title="VPN drops every ten minutes",
                requester=alice,
                priority=Priority.P3,
                service_id=vpn.id,
            )
            prb = await uow.tickets.create(
                kind=TicketKind.PROBLEM, title="VPN concentrator leaks sessions", requester=bob
            )
            await uow.desk.upsert(Supplier, "TunnelCo", contract="UC-12")
            _, token = await uow.signins.issue(bob)
            await uow.commit()
            return {"inc": inc.ref, "prb": prb.ref, "token": token}
    finally:
        await engine.dispose()


@pytest.fixture
def server(demo_settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    seeded = asyncio.run(_prepare(demo_settings))
    port = free_port()
    with processes(tmp_path) as running:
        proc = start(
            ["serve", "--port", str(port)], environment(demo_settings), tmp_path / "serve.log"
        )
        running.append(proc)
        wait_healthy(port, proc)
        yield f"http://127.0.0.1:{port}", seeded


def test_link_to_a_problem_and_hand_to_a_supplier(
    server: tuple[str, dict[str, str]],
    chromium_path: str,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, seeded = server
    inc, prb = seeded["inc"], seeded["prb"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/signin/{seeded['token']}?next=/console/tickets/{inc}")
            expect(page.locator("h1")).to_contain_text(inc)
            expect(page.locator("#ci-item")).to_contain_text("VPN")
            expect(page.locator("#linked")).to_contain_text("No linked tickets.")

            page.fill("#link-to", prb)
            page.click("#link")
            expect(page.locator("#linked a", has_text=prb)).to_be_visible()

            page.select_option("#supplier-name", "TunnelCo")
            page.fill("#supplier-note", "Sessions leak after 10 minutes")
            page.click("#hand")
            expect(page.locator("#handoff")).to_contain_text("TunnelCo")

            page.locator("#linked a", has_text=prb).click()
            expect(page.locator("#linked a", has_text=inc)).to_be_visible()
        finally:
            browser.close()
