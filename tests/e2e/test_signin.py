"""Sign-in by one-time link: the CLI's URL, single use, expiry, forged cookies, roles, CSRF."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated
from unittest.mock import patch
from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from typer.testing import CliRunner

from bot.app import create_app
from bot.cli import app as cli
from bot.config import Settings
from bot.container import Role as ContainerRole
from bot.web.auth import IDLE, RENEW_AFTER, SESSION_COOKIE, SignedIn, require_role
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.enums import Role
from store.models import Person
from store.types import utcnow
from store.uow import UnitOfWork

runner = CliRunner()
HTML = {"Accept": "text/html"}


async def _in_db(settings: Settings, email: str, *, age: timedelta = timedelta(0)) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            _, token = await uow.signins.issue(person, now=utcnow() - age)
            await uow.commit()
            return token
    finally:
        await engine.dispose()


async def _drop_role(settings: Settings, email: str, role: Role) -> None:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            for r in list(person.roles):
                if r.role is role:
                    person.roles.remove(r)
            await uow.commit()
    finally:
        await engine.dispose()


def link(settings: Settings, email: str, **env: str) -> str:
    result = runner.invoke(
        cli,
        ["signin-link", "--as", email],
        env={"DATABASE_URL": settings.database_url, **env},
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    return lines[0]


def app_with_probe(settings: Settings) -> FastAPI:
    # The web role alone: sign-in needs no worker.
    app = create_app(settings, roles=frozenset({ContainerRole.WEB}))

    @app.get("/probe/me")
    async def me(person: SignedIn) -> dict[str, str]:
        return {"email": person.email or ""}

    @app.get("/probe/agents")
    async def agents(person: Annotated[Person, Depends(require_role("agent"))]) -> dict[str, str]:
        return {"email": person.email or ""}

    return app


def test_cli_prints_one_url_on_the_configured_base(demo_settings: Settings) -> None:
    url = link(demo_settings, "alice@example.com", HOST="0.0.0.0", PORT="9123")
    assert url.startswith("http://127.0.0.1:9123/signin/")
    public = link(demo_settings, "alice@example.com", PUBLIC_URL="https://desk.example.com/")
    assert public.startswith("https://desk.example.com/signin/")
    unknown = runner.invoke(
        cli,
        ["signin-link", "--as", "nobody@example.com"],
        env={"DATABASE_URL": demo_settings.database_url},
    )
    assert unknown.exit_code == 1
    assert unknown.stdout == ""
    assert "No active person" in unknown.stderr


def test_link_signs_in_once(demo_settings: Settings) -> None:
    path = urlsplit(link(demo_settings, "alice@example.com")).path
    with TestClient(app_with_probe(demo_settings)) as client:
        assert client.get("/probe/me").status_code == 401
        res = client.get(path, headers=HTML, follow_redirects=False)
        assert res.status_code == 303
        assert res.headers["location"] == "/portal"
        cookie = res.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        assert "secure" not in cookie  # plain http here
        assert client.get("/probe/me").json() == {"email": "alice@example.com"}
        signed_in = client.get("/signin", headers=HTML, follow_redirects=False)
        assert signed_in.headers["location"] == "/portal"

        again = client.get(path, headers=HTML, follow_redirects=False)
        assert again.status_code == 410
        assert "already been used" in again.text
        assert "sign in" in again.text


def test_expired_and_unknown_links(demo_settings: Settings) -> None:
    old = asyncio.run(_in_db(demo_settings, "alice@example.com", age=timedelta(minutes=16)))
    with TestClient(app_with_probe(demo_settings)) as client:
        expired = client.get(f"/signin/{old}", headers=HTML, follow_redirects=False)
        assert expired.status_code == 410
        assert "expired" in expired.text
        unknown = client.get("/signin/not-a-real-token", headers=HTML, follow_redirects=False)
        assert unknown.status_code == 400
        assert "not valid" in unknown.text
        assert SESSION_COOKIE not in client.cookies
        too_long = client.get("/signin/" + "x" * 500, follow_redirects=False)
        assert too_long.status_code == 400


def test_link_previews_do_not_spend_the_link(demo_settings: Settings) -> None:
    token = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        preview = client.get(
            f"/signin/{token}",
            headers={"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
        )
        assert preview.status_code == 200
        assert SESSION_COOKIE not in client.cookies
        assert client.get(f"/signin/{token}", follow_redirects=False).status_code == 303


def test_public_url_on_https_makes_the_cookie_secure(demo_settings: Settings) -> None:
    settings = demo_settings.model_copy(update={"public_url": "https://desk.example.com"})
    token = asyncio.run(_in_db(settings, "alice@example.com"))
    with TestClient(app_with_probe(settings), base_url="https://testserver") as c:
        res = c.get(f"/signin/{token}", follow_redirects=False)
        assert "secure" in res.headers["set-cookie"].lower()


def test_forged_and_foreign_cookies_are_refused(demo_settings: Settings) -> None:
    token = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        client.get(f"/signin/{token}", follow_redirects=False)
        good = client.cookies[SESSION_COOKIE]
        client.cookies.clear()
        # Signed with another key, claiming someone else: refused.
        forged = URLSafeTimedSerializer(
            b"not the deployment secret", salt="switchboard.web-session"
        )
        client.cookies.set(SESSION_COOKIE, forged.dumps([1, 2, "x"]))
        assert client.get("/probe/me").status_code == 401
        page = client.get("/probe/me", headers=HTML, follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/signin?next=/probe/me"
        # A tampered payload under the real signature fails too.
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, good[:-2] + ("AA" if not good.endswith("AA") else "BB"))
        assert client.get("/probe/me").status_code == 401
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, good)
        assert client.get("/probe/me").status_code == 200


def test_roles_are_read_on_every_request(demo_settings: Settings) -> None:
    alice = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    bob = asyncio.run(_in_db(demo_settings, "bob@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        client.get(f"/signin/{alice}", follow_redirects=False)
        refused = client.get("/probe/agents")
        assert refused.status_code == 403
        assert "agent" in refused.json()["error"]
        client.get(f"/signin/{bob}", follow_redirects=False)
        assert client.get("/probe/agents").json() == {"email": "bob@example.com"}
        asyncio.run(_drop_role(demo_settings, "bob@example.com", Role.AGENT))
        assert client.get("/probe/agents").status_code == 403
        assert client.get("/probe/me").status_code == 200


def test_sign_out_needs_the_form_token_and_ends_the_session(demo_settings: Settings) -> None:
    from bot.web.auth import decode_session

    token = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        client.get(f"/signin/{token}", follow_redirects=False)
        cookie = client.cookies[SESSION_COOKIE]
        secret = demo_settings.secret_key
        assert secret is not None
        decoded = decode_session(secret.get_secret_value().encode(), cookie)
        assert decoded is not None
        csrf = decoded[0].csrf

        assert client.post("/signout", data={}, follow_redirects=False).status_code == 403
        wrong = client.post("/signout", data={"csrf_token": "nope"}, follow_redirects=False)
        assert wrong.status_code == 403
        assert client.get("/probe/me").status_code == 200

        out = client.post("/signout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert out.headers["location"].startswith("/signin")
        # The old cookie, replayed after sign-out, no longer works.
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, cookie)
        assert client.get("/probe/me").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example.com/x", "https://evil.example.com", "/\\x"])
def test_next_never_leaves_the_site(demo_settings: Settings, target: str) -> None:
    token = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        res = client.get(f"/signin/{token}", params={"next": target}, follow_redirects=False)
        assert res.headers["location"] == "/portal"


@contextmanager
def later(seconds: int) -> Iterator[None]:
    """Cookies are signed and judged as if `seconds` had passed."""
    now = int(time.time()) + seconds
    with patch.object(TimestampSigner, "get_timestamp", return_value=now):
        yield


def test_sessions_expire_when_idle_and_renew_on_use(demo_settings: Settings) -> None:
    token = asyncio.run(_in_db(demo_settings, "alice@example.com"))
    with TestClient(app_with_probe(demo_settings)) as client:
        client.get(f"/signin/{token}", follow_redirects=False)
        first = client.cookies[SESSION_COOKIE]
        fresh = client.get("/probe/me")
        assert SESSION_COOKIE not in fresh.headers.get("set-cookie", "")
        with later(int(RENEW_AFTER.total_seconds()) + 5):
            used = client.get("/probe/me")
            assert used.status_code == 200
            assert used.headers["set-cookie"].startswith(f"{SESSION_COOKIE}=")
        renewed = client.cookies[SESSION_COOKIE]
        assert renewed != first
        idle = int(IDLE.total_seconds())
        with later(idle + 60):
            # The first cookie has been idle too long; the renewed one has not.
            client.cookies.clear()
            client.cookies.set(SESSION_COOKIE, first)
            assert client.get("/probe/me").status_code == 401
            client.cookies.clear()
            client.cookies.set(SESSION_COOKIE, renewed)
            assert client.get("/probe/me").status_code == 200


def test_asking_the_bot_in_a_private_chat(
    demo_settings: Settings, understander: Understander
) -> None:
    from bot.console_session import ConsoleSession

    async def ask(email: str, text: str) -> str:
        async with ConsoleSession(demo_settings, email, understander=understander) as s:
            [reply] = await s.say(text)
        return reply.text

    said = asyncio.run(ask("alice@example.com", "send me a sign-in link"))
    found = re.search(r"http://127\.0\.0\.1:8000(/signin/[A-Za-z0-9_-]+)\S*", said)
    assert found, said
    assert "portal" in said
    agent = asyncio.run(ask("bob@example.com", "get me into the console"))
    assert "?next=/console" in agent
    with TestClient(app_with_probe(demo_settings)) as client:
        res = client.get(found.group(1), follow_redirects=False)
        assert res.status_code == 303
        assert client.get("/probe/me").json() == {"email": "alice@example.com"}
