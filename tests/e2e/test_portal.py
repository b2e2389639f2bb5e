"""The requester portal: own tickets only, the timeline, comments and new tickets through the
same pipeline as chat, knowledge suggestions and deflection, two languages."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.console_session import ConsoleSession
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.models import KnowledgeFeedback, OutboxMessage, TicketEvent
from store.uow import UnitOfWork

HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SUBMISSION = re.compile(r'name="submission"(?: id="submission")? value="([^"]+)"')


async def report(settings: Settings, understander: Understander, who: str, text: str) -> str:
    async with ConsoleSession(settings, who, understander=understander) as s:
        replies = await s.say(text)
    ref = next(r.ticket_ref for r in replies if r.ticket_ref)
    assert ref
    return ref


async def setup(settings: Settings, understander: Understander) -> tuple[str, str, str]:
    """Alice's ticket assigned to Bob (who has chatted, so he can be told), and Dan's."""
    alice_ref = await report(
        settings, understander, "alice@example.com", "my laptop screen flickers"
    )
    dan_ref = await report(settings, understander, "dan@example.com", "the CRM is down for me")
    async with ConsoleSession(settings, "bob@example.com", understander=understander) as s:
        await s.say("hello")
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            bob = await uow.people.by_email("bob@example.com")
            ticket = await uow.tickets.by_ref(alice_ref)
            assert bob is not None
            assert ticket is not None
            ticket.assignee_id = bob.id
            await uow.commit()
            async with UnitOfWork(session_factory(engine)) as uow2:
                alice = await uow2.people.by_email("alice@example.com")
                assert alice is not None
                _, token = await uow2.signins.issue(alice)
                await uow2.commit()
    finally:
        await engine.dispose()
    return alice_ref, dan_ref, token


async def rows(settings: Settings, model: type, **where: object) -> list:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            stmt = select(model).filter_by(**where)
            return list(await uow.session.scalars(stmt))
    finally:
        await engine.dispose()


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_portal_end_to_end(demo_settings: Settings, understander: Understander) -> None:
    alice_ref, dan_ref, token = asyncio.run(setup(demo_settings, understander))
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert client.get("/portal", headers=HTML, follow_redirects=False).status_code == 303
        client.get(f"/signin/{token}")

        home = client.get("/portal", headers=HTML)
        assert home.status_code == 200
        assert alice_ref in home.text
        assert dan_ref not in home.text
        assert "<main" in home.text
        assert home.headers["content-security-policy"].startswith("default-src 'self'")
        # Someone else's ticket is as missing as one that does not exist.
        assert client.get(f"/portal/tickets/{dan_ref}", headers=HTML).status_code == 404
        assert client.get("/portal/tickets/INC-999", headers=HTML).status_code == 404

        detail = client.get(f"/portal/tickets/{alice_ref}", headers=HTML)
        assert "my laptop screen flickers" in detail.text
        assert "console" in detail.text  # the channel it came through
        csrf = CSRF.search(detail.text)
        submission = SUBMISSION.search(detail.text)
        assert csrf
        assert submission

        forged = client.post(
            f"/portal/tickets/{alice_ref}/comments",
            data={"text": "sneaky", "submission": submission.group(1)},
            follow_redirects=False,
        )
        assert forged.status_code == 403
        sent = client.post(
            f"/portal/tickets/{alice_ref}/comments",
            data={
                "text": "It only happens on battery",
                "submission": submission.group(1),
                "csrf_token": csrf.group(1),
            },
        )
        assert sent.status_code == 200
        assert "It only happens on battery" in sent.text
        assert "Your comment was added." in sent.text
        events = asyncio.run(rows(demo_settings, TicketEvent, action="note"))
        assert [e.detail["text"] for e in events] == ["It only happens on battery"]
        assert events[0].channel == "webchat"
        told = asyncio.run(rows(demo_settings, OutboxMessage, platform="console"))
        assert any(
            "New information on" in r.reply["text"] and "battery" in r.reply["text"] for r in told
        )
        # Commenting on someone else's ticket is refused as if it did not exist.
        other = client.post(
            f"/portal/tickets/{dan_ref}/comments",
            data={"text": "x", "submission": "abcdefgh1", "csrf_token": csrf.group(1)},
        )
        assert other.status_code == 404

        form = client.get("/portal/new", headers=HTML)
        new_submission = SUBMISSION.search(form.text)
        assert new_submission
        short = client.post(
            "/portal/new",
            data={"subject": "x", "csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert short.headers["location"] == "/portal/new?error=subject"
        filed = client.post(
            "/portal/new",
            data={
                "kind": "request",
                "subject": "A second monitor for my desk",
                "description": "27 inch please",
                "submission": new_submission.group(1),
                "csrf_token": csrf.group(1),
            },
            follow_redirects=False,
        )
        assert filed.status_code == 303
        assert filed.headers["location"].startswith("/portal/tickets/REQ-")
        page = client.get(filed.headers["location"], headers=HTML)
        assert "A second monitor for my desk" in page.text
        assert alice_ref in client.get("/portal", headers=HTML).text


def test_suggestions_and_deflection(demo_settings: Settings) -> None:
    from bot.container import Role

    async def sign_in() -> str:
        engine = create_engine(
            demo_settings.async_database_url, connect_args=demo_settings.database_connect_args
        )
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                alice = await uow.people.by_email("alice@example.com")
                assert alice is not None
                _, token = await uow.signins.issue(alice)
                await uow.commit()
                return token
        finally:
            await engine.dispose()

    token = asyncio.run(sign_in())
    with TestClient(create_app(demo_settings, roles=frozenset({Role.WEB}))) as client:
        assert client.get("/portal/suggest", params={"q": "vpn"}).status_code == 401
        client.get(f"/signin/{token}")
        found = client.get("/portal/suggest", params={"q": "set up vpn on my phone"}).json()
        assert found["articles"][0]["slug"] == "vpn-setup"
        assert client.get("/portal/suggest", params={"q": ""}).json() == {"articles": []}

        opened = metric("switchboard_portal_suggestions_opened_total")
        article = client.get(
            "/portal/knowledge/vpn-setup", params={"from": "sub123456"}, headers=HTML
        )
        assert "GlobalProtect" in article.text
        assert metric("switchboard_portal_suggestions_opened_total") == opened + 1
        # Opening it again from the same form is still one suggestion opened.
        client.get("/portal/knowledge/vpn-setup", params={"from": "sub123456"}, headers=HTML)
        assert metric("switchboard_portal_suggestions_opened_total") == opened + 1

        csrf = CSRF.search(article.text)
        assert csrf
        deflected = metric("switchboard_portal_deflections_total")
        done = client.post(
            "/portal/knowledge/vpn-setup/solved",
            data={"csrf_token": csrf.group(1)},
            follow_redirects=False,
        )
        assert done.headers["location"] == "/portal?solved=true"
        assert metric("switchboard_portal_deflections_total") == deflected + 1
        [verdict] = asyncio.run(rows(demo_settings, KnowledgeFeedback))
        assert verdict.helpful
        assert verdict.channel == "portal"

        search = client.get("/portal/knowledge", params={"q": "printer jam"}, headers=HTML)
        assert "Clear a printer jam" in search.text
        assert client.get("/portal/knowledge/nope", headers=HTML).status_code == 404


def test_chinese_pages(demo_settings: Settings) -> None:
    from bot.container import Role

    with TestClient(create_app(demo_settings, roles=frozenset({Role.WEB}))) as client:
        page = client.get("/signin", headers={**HTML, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
        assert '<html lang="zh-CN">' in page.text
        assert "登录" in page.text
        english = client.get("/signin", headers={**HTML, "Accept-Language": "fr, en;q=0.5"})
        assert '<html lang="en">' in english.text


def test_web_chat_signed_in_is_the_persons_own(
    demo_settings: Settings, understander: Understander
) -> None:
    from store.models import Ticket

    async def link() -> str:
        engine = create_engine(
            demo_settings.async_database_url, connect_args=demo_settings.database_connect_args
        )
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                alice = await uow.people.by_email("alice@example.com")
                assert alice is not None
                _, token = await uow.signins.issue(alice)
                await uow.commit()
                return token
        finally:
            await engine.dispose()

    token = asyncio.run(link())
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        anonymous = client.post("/webchat/session").json()
        assert anonymous["visitor"].startswith("v_")
        assert not anonymous["signed_in"]
        client.get(f"/signin/{token}")
        mine = client.post(
            "/webchat/session", headers={"X-Webchat-Token": anonymous["token"]}
        ).json()
        assert mine["signed_in"]
        assert mine["visitor"].startswith("u_")
        chat = {"X-Webchat-Token": mine["token"]}
        sent = client.post(
            "/webchat/messages",
            json={"id": "m1", "text": "the printer on floor 3 is jammed"},
            headers=chat,
        )
        assert sent.status_code == 202
        replies = client.get("/webchat/replies", params={"after": 0, "wait": 20}, headers=chat)
        ref = next(r["ticket_ref"] for r in replies.json()["replies"] if r["ticket_ref"])
        [ticket] = asyncio.run(rows(demo_settings, Ticket, ref=ref))
        # The directory person, not a new contact made for the chat.
        assert ticket.requester.email == "alice@example.com"
        assert ref in client.get("/portal", headers=HTML).text

        home = client.get("/portal", headers=HTML)
        csrf = CSRF.search(home.text)
        assert csrf
        client.post("/signout", data={"csrf_token": csrf.group(1)})
        # Signed out: the person's chat token is no longer honoured, and a new session is
        # anonymous again.
        ended = client.get("/webchat/replies", params={"wait": 0}, headers=chat)
        assert ended.status_code == 401
        assert ended.json()["expired"] is True
        again = client.post("/webchat/session", headers=chat).json()
        assert again["visitor"].startswith("v_")
