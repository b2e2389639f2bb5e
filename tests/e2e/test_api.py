"""The REST API: bearer tokens, object-level scoping, updates that tell the requester."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.console_session import ConsoleSession
from bot.container import Overrides
from nlu.types import Understander
from store.db import create_engine, session_factory
from store.uow import UnitOfWork


async def token_for(settings: Settings, email: str) -> str:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            person = await uow.people.by_email(email)
            assert person is not None
            issued = await uow.tokens.issue(person, "test")
            await uow.commit()
            return issued.token
    finally:
        await engine.dispose()


async def report(settings: Settings, understander: Understander, who: str, text: str) -> str:
    async with ConsoleSession(settings, who, understander=understander) as s:
        [reply] = await s.say(text)
    assert reply.ticket_ref
    return reply.ticket_ref


def test_tokens_scope_and_updates(demo_settings: Settings, understander: Understander) -> None:
    alice_ref = asyncio.run(
        report(demo_settings, understander, "alice@example.com", "my laptop screen is flickering")
    )
    dan_ref = asyncio.run(
        report(demo_settings, understander, "dan@example.com", "the CRM is down, can't log in")
    )
    alice = asyncio.run(token_for(demo_settings, "alice@example.com"))
    bob = asyncio.run(token_for(demo_settings, "bob@example.com"))
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        assert client.get("/api/tickets").status_code == 401
        bad = client.get("/api/tickets", headers={"Authorization": "Bearer sb_nope"})
        assert bad.status_code == 401
        assert bad.headers["www-authenticate"] == "Bearer"

        as_alice = {"Authorization": f"Bearer {alice}"}
        mine = client.get("/api/tickets", headers=as_alice).json()
        assert [t["ref"] for t in mine["items"]] == [alice_ref]
        # Someone else's ticket looks exactly like one that does not exist.
        other = client.get(f"/api/tickets/{dan_ref}", headers=as_alice)
        missing = client.get("/api/tickets/INC-999", headers=as_alice)
        assert other.status_code == missing.status_code == 404
        assert other.json()["detail"].replace(dan_ref, "X") == missing.json()["detail"].replace(
            "INC-999", "X"
        )
        assert (
            client.patch(
                f"/api/tickets/{alice_ref}", json={"priority": "P1"}, headers=as_alice
            ).status_code
            == 403
        )

        as_bob = {"Authorization": f"Bearer {bob}"}
        everything = client.get("/api/tickets", headers=as_bob).json()
        assert {t["ref"] for t in everything["items"]} == {alice_ref, dan_ref}
        seen = client.get(f"/api/tickets/{alice_ref}", headers=as_bob)
        etag = seen.headers["etag"]
        assert etag == f'"{seen.json()["version"]}"'
        res = client.patch(
            f"/api/tickets/{alice_ref}",
            json={"assignee_email": "bob@example.com", "note": "replacing the cable"},
            headers={**as_bob, "If-Match": etag},
        )
        assert res.status_code == 200, res.text
        assert res.headers["etag"] != etag
        # Someone who saw the ticket before that update is told it moved on.
        stale = client.patch(
            f"/api/tickets/{alice_ref}",
            json={"priority": "P2"},
            headers={**as_bob, "If-Match": etag},
        )
        assert stale.status_code == 409
        assert "read it again" in stale.json()["detail"]
        bad_tag = client.patch(
            f"/api/tickets/{alice_ref}",
            json={"priority": "P2"},
            headers={**as_bob, "If-Match": "*x"},
        )
        assert bad_tag.status_code == 400
        assert res.json()["assignee"] == "Bob Agent"
        assert res.json()["status"] == "in_progress"
        events = client.get(f"/api/tickets/{alice_ref}/events", headers=as_bob).json()
        assert [e["action"] for e in events] == ["created", "assigned", "note"]
        assert events[1]["actor"] == "Bob Agent"
        assert events[1]["channel"] == "api"
        conflict = client.patch(
            f"/api/tickets/{alice_ref}", json={"status": "closed"}, headers=as_bob
        )
        assert conflict.status_code == 409
        invalid = client.patch(
            f"/api/tickets/{alice_ref}", json={"status": "exploded"}, headers=as_bob
        )
        assert invalid.status_code == 400
        assert client.get("/docs").status_code == 200
        assert "/api/tickets" in client.get("/openapi.json").json()["paths"]

    # The requester hears about it where she raised the ticket.
    async def alice_hears() -> list[str]:
        async with ConsoleSession(
            demo_settings, "alice@example.com", understander=understander
        ) as s:
            await s.say("hi")
            return [r.text for r in s.replies]

    heard = asyncio.run(alice_hears())
    assert any(f"{alice_ref} was updated by Bob Agent" in t for t in heard)


def test_health_and_metrics(demo_settings: Settings, understander: Understander) -> None:
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["checks"] == {"database": "ok"}
        token = client.post("/webchat/session").json()["token"]
        client.post(
            "/webchat/messages",
            json={"id": "m1", "text": "hello"},
            headers={"X-Webchat-Token": token},
        )
        client.post(
            "/webchat/messages",
            json={"id": "m1", "text": "hello"},
            headers={"X-Webchat-Token": token},
        )
        client.post(
            "/webchat/messages",
            json={"id": "m2", "text": "hello"},
            headers={"X-Webchat-Token": "v_x.forged"},
        )
        body = client.get("/metrics").text
        for outcome in ("accepted", "duplicate", "rejected"):
            line = f'switchboard_inbox_events_total{{outcome="{outcome}",platform="webchat"}}'
            assert line in body
        assert "switchboard_queue_depth" in body


def test_guessing_references_is_slowed_down(
    demo_settings: Settings, understander: Understander
) -> None:
    own = asyncio.run(report(demo_settings, understander, "dan@example.com", "the CRM is down"))
    dan = asyncio.run(token_for(demo_settings, "dan@example.com"))
    bob = asyncio.run(token_for(demo_settings, "bob@example.com"))
    app = create_app(demo_settings, overrides=Overrides(understander=understander))
    with TestClient(app) as client:
        as_dan = {"Authorization": f"Bearer {dan}"}
        codes = [
            client.get(f"/api/tickets/INC-{900 + i}", headers=as_dan).status_code for i in range(12)
        ]
        assert codes[:10] == [404] * 10
        assert codes[10:] == [429, 429]
        # While slowed down, even a real reference is not looked up.
        assert client.get(f"/api/tickets/{own}", headers=as_dan).status_code == 429
        # Staff are not limited.
        as_bob = {"Authorization": f"Bearer {bob}"}
        assert [
            client.get(f"/api/tickets/INC-{900 + i}", headers=as_bob).status_code for i in range(12)
        ] == [404] * 12
        assert client.get(f"/api/tickets/{own}", headers=as_bob).status_code == 200


async def test_guessing_references_in_chat_is_slowed_down(
    demo_settings: Settings, understander: Understander
) -> None:
    async with ConsoleSession(demo_settings, "dan@example.com", understander=understander) as s:
        [first] = await s.say("the CRM is down since this morning")
        own = first.ticket_ref
        answers = [(await s.say(f"status of INC-{700 + i}"))[0].text for i in range(11)]
        assert all("couldn't find" in a for a in answers[:10])
        assert "several tickets I couldn't find" in answers[10]
        [blocked] = await s.say(f"status of {own}")
        assert "several tickets I couldn't find" in blocked.text
        [listing] = await s.say("my tickets")
        assert own in listing.text
