"""What a stranger can send is a clear 4xx (or a 503 while the store is down), never a 5xx.

Each case was found by fuzzing the running app: NUL bytes, integers beyond 64 bits, JSON
nested a thousand deep, bodies over the limit (also chunked), concurrent updates of one
ticket, a database that is shutting down.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bot.config import Settings
from bot.guards import (
    Guards,
    Refused,
    check_body,
    install_error_handlers,
    json_depth,
    storable_form,
)
from channels.conversation import Address, Identity, Message
from nlu.types import Understander
from store.errors import ConflictError
from store.models import InboxEvent
from tests.conftest import Scoreboard
from tests.e2e.test_api import report, token_for
from tests.fakes.telegram_api import private_update
from tests.security.harness import TELEGRAM_SECRET, Hostile, hostile_app

DEEP = 1000


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def hostile(demo_settings: Settings, understander: Understander) -> Iterator[Hostile]:
    with hostile_app(demo_settings, understander) as h:
        yield h


def webchat_token(client: TestClient) -> dict[str, str]:
    return {"X-Webchat-Token": client.post("/webchat/session").json()["token"]}


def stored_payloads(h: Hostile) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        async with h.container.uow() as uow:
            rows = await uow.session.scalars(select(InboxEvent))
            return [r.payload for r in rows]

    return list(h.client.portal.call(go))  # type: ignore[union-attr]


def test_nul_bytes_in_text_are_dropped_before_storage(
    any_settings: Settings, understander: Understander, scoreboard: Scoreboard
) -> None:
    with hostile_app(any_settings, understander, worker=False) as h:
        chat = webchat_token(h.client)
        web = h.client.post(
            "/webchat/messages", json={"id": "nul-1", "text": "VPN\u0000 down"}, headers=chat
        )
        update = private_update(770001, "printer\u0000 jammed")
        tg = h.client.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        payloads = stored_payloads(h)
    codes = [web.status_code, tg.status_code]
    scoreboard.record("5xx", probes=2, failures=sum(c >= 500 for c in codes))
    scoreboard.record("lost", probes=2, failures=2 - len(payloads))
    assert web.status_code == 202, web.text
    assert tg.status_code == 200, tg.text
    texts = sorted(p["text"] for p in payloads)
    assert texts == ["VPN down", "printer jammed"]
    assert "\x00" not in json.dumps(payloads)


def test_storable_keeps_clean_events_and_cleans_the_rest() -> None:
    address = Address(channel="webchat", conversation="v_1", user="v_1")
    sender = Identity(platform="webchat", external_id="v_1")
    clean = Message(event_id="e1", address=address, sender=sender, text="fine")
    kept, kept_payload = storable_form(clean)
    assert kept is clean
    assert kept_payload == clean.to_dict()
    dirty = Message(event_id="e\x002", address=address, sender=sender, text="a\x00b\ud800c")
    fixed, payload = storable_form(dirty)
    assert isinstance(fixed, Message)
    assert (fixed.event_id, fixed.text) == ("e2", "ab?c")
    assert payload == fixed.to_dict()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/tickets/INC-1%00"),
        ("GET", "/api/tickets/INC-1%00/events"),
        ("GET", "/api/tickets?offset=1180591620717411303424"),
        ("GET", "/api/tickets?limit=%00"),
        ("GET", "/webchat/replies?after=1180591620717411303424"),
        ("GET", "/webchat/replies?after=-1180591620717411303424"),
        ("GET", "/webchat/replies?after=1%00"),
        ("GET", "/api/tickets/INC-1180591620717411303424"),
        ("GET", "/x/webhook?crc_token=%00"),
        ("GET", "/api/tickets/INC-" + "9" * 5000),
        ("GET", "/webchat/replies?after=" + "9" * 5000),
    ],
)
def test_nul_bytes_and_huge_integers_in_the_target_are_400(
    hostile: Hostile, method: str, url: str, scoreboard: Scoreboard
) -> None:
    res = hostile.client.request(method, url, headers=webchat_token(hostile.client))
    scoreboard.record("5xx", probes=1, failures=int(res.status_code >= 500))
    assert res.status_code == 400, res.text
    assert "error" in res.json()


def test_deep_json_is_400_on_every_route(hostile: Hostile, scoreboard: Scoreboard) -> None:
    body = nested(DEEP).encode()
    chat = webchat_token(hostile.client)
    telegram = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    results = {
        route: hostile.client.post(
            route, content=body, headers={"content-type": "application/json", **extra}
        )
        for route, extra in [
            ("/webchat/messages", chat),
            ("/telegram/webhook", telegram),
            ("/slack/events", {}),
            ("/x/webhook", {}),
            ("/api/alerts", {}),
        ]
    }
    form = "payload=" + nested(DEEP)
    results["slack form"] = hostile.client.post(
        "/slack/events",
        content=form.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    scoreboard.record(
        "5xx", probes=len(results), failures=sum(r.status_code >= 500 for r in results.values())
    )
    assert {k: r.status_code for k, r in results.items()} == dict.fromkeys(results, 400)
    assert all("nested" in r.json()["error"] for r in results.values())
    # Depth up to the limit is fine.
    ok = hostile.client.post(
        "/webchat/messages",
        json={"id": "d", "text": "hi", "x": json.loads(nested(60))},
        headers=chat,
    )
    assert ok.status_code == 202


def test_huge_integers_in_json_bodies_are_400(hostile: Hostile) -> None:
    chat = webchat_token(hostile.client)
    for number in (b"1180591620717411303424", b"9" * 5000, b"-" + b"9" * 20):
        res = hostile.client.post(
            "/webchat/messages", content=b'{"id": ' + number + b', "text": "hi"}', headers=chat
        )
        assert res.status_code == 400, number[:30]
    small = b'{"id": 00000000000000000000000000001, "text": "hi"}'
    assert hostile.client.post("/webchat/messages", content=small, headers=chat).status_code < 500
    # Digits inside strings and fractions are not integers.
    fine = hostile.client.post(
        "/webchat/messages",
        content=b'{"id": "1180591620717411303424", "text": "hi", "f": 1.1180591620717411303424}',
        headers={**chat, "content-type": "application/json"},
    )
    assert fine.status_code == 202, fine.text


def test_json_depth_skips_strings() -> None:
    assert json_depth(b'{"a": "[[[[[[[[[[", "b": [1, [2]]}', 64) == 3
    assert json_depth(b'"\\"[[["', 64) == 0
    assert json_depth(nested(100).encode(), 64) == 65


# -- body size ------------------------------------------------------------------------------


async def _guarded(
    chunks: list[bytes], limit: int, headers: list[tuple[bytes, bytes]]
) -> tuple[int, int, bool]:
    """Run Guards over a streamed body: (status, chunks read, whether the app ran)."""
    reads = 0
    ran = False
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal ran
        ran = True

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        i = reads - 1
        return {"type": "http.request", "body": chunks[i], "more_body": i < len(chunks) - 1}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webchat/messages", "headers": headers}
    await Guards(app, max_body_bytes=limit)(scope, receive, send)
    return (sent[0]["status"] if sent else 0), reads, ran


def test_a_chunked_body_over_the_limit_is_413_without_reading_the_rest() -> None:
    chunks = [b"x" * 1000] * 100
    status, reads, ran = asyncio.run(_guarded(chunks, 4500, [(b"transfer-encoding", b"chunked")]))
    assert (status, reads, ran) == (413, 5, False)


def test_a_declared_length_over_the_limit_is_413_before_reading() -> None:
    chunks = [b"x" * 1000] * 10
    status, reads, ran = asyncio.run(_guarded(chunks, 4500, [(b"content-length", b"10000")]))
    assert (status, reads, ran) == (413, 0, False)


def test_bodies_within_the_limit_reach_the_app() -> None:
    assert asyncio.run(_guarded([b"{}"], 4500, [])) == (0, 1, True)


def test_an_oversized_body_is_413_through_the_app(hostile: Hostile) -> None:
    limit = hostile.container.settings.max_body_bytes
    big = json.dumps({"id": "big", "text": "x" * (limit + 10)}).encode()
    res = hostile.client.post(
        "/webchat/messages", content=big, headers=webchat_token(hostile.client)
    )
    assert res.status_code == 413
    assert "larger" in res.json()["error"]


# -- the store -----------------------------------------------------------------------------


def _failing_app(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    @app.get("/api/boom")
    async def api_boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def _dbapi(error: Exception) -> DBAPIError:
    return DBAPIError.instance("SELECT 1", None, error, Exception)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"),
    ],
)
def test_a_database_that_cannot_answer_is_503_with_retry_after(error: Exception) -> None:
    res = _failing_app(_dbapi(error)).get("/boom")
    assert res.status_code == 503
    assert res.headers["retry-after"].isdigit()
    assert "unavailable" in res.json()["error"]


def test_a_lost_race_is_409_and_unstorable_data_400() -> None:
    assert _failing_app(ConflictError("stale")).get("/boom").status_code == 409
    data_error = asyncpg.exceptions.CharacterNotInRepertoireError("invalid byte sequence")
    assert _failing_app(_dbapi(data_error)).get("/boom").status_code == 400


def test_concurrent_patches_one_wins_the_others_409(
    any_settings: Settings, understander: Understander, scoreboard: Scoreboard
) -> None:
    ref = asyncio.run(report(any_settings, understander, "alice@example.com", "printer jammed"))
    bob = {"Authorization": f"Bearer {asyncio.run(token_for(any_settings, 'bob@example.com'))}"}
    with hostile_app(any_settings, understander, worker=False) as h:
        seen = h.client.get(f"/api/tickets/{ref}", headers=bob).json()
        version = seen["version"]
        codes: list[int] = []
        start = threading.Barrier(4)

        def patch(priority: str) -> None:
            start.wait()
            res = h.client.patch(
                f"/api/tickets/{ref}",
                json={"priority": priority},
                headers={**bob, "If-Match": f'"{version}"'},
            )
            codes.append(res.status_code)

        # Every request changes something: all but one must find the ticket moved on.
        choices = [p for p in ("P1", "P2", "P3", "P4", "P5") if p != seen["priority"]][:4]
        threads = [threading.Thread(target=patch, args=(p,)) for p in choices]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = h.client.get(f"/api/tickets/{ref}", headers=bob).json()
    scoreboard.record("5xx", probes=len(codes), failures=sum(c >= 500 for c in codes))
    assert sorted(codes) == [200] + [409] * 3, codes
    assert after["version"] == version + 1


def test_a_parser_tripping_on_a_payload_is_400_and_our_own_bug_500() -> None:
    client = _failing_app(TypeError("expected string, got list"))
    webhook = client.get("/boom")
    assert webhook.status_code == 400
    assert webhook.json() == {"error": "the payload could not be read"}
    assert client.get("/api/boom").status_code == 500


def test_form_bodies_with_any_bytes_are_checked_without_error() -> None:
    form = "application/x-www-form-urlencoded"
    check_body(b"0=%5B%C4%80&=null", form, 64)
    check_body(b"payload=%5B%FF%FE", form, 64)
    with pytest.raises(Refused):
        check_body(b"payload=" + b"%5B" * 100, form, 64)


def test_every_platform_delivery_is_served_beside_the_middleware(hostile: Hostile) -> None:
    from starlette.routing import Route

    from bot.app import DIRECT_ROUTES
    from bot.direct import DirectRoutes

    app = hostile.client.app
    direct = next(m for m in app.user_middleware if m.cls is DirectRoutes)  # type: ignore[attr-defined]
    served = set(direct.kwargs["routes"])
    named = {r.name: r for r in app.routes if isinstance(r, Route)}  # type: ignore[attr-defined]
    # A renamed route would silently fall back to the slower path through the whole stack.
    assert set(named) >= DIRECT_ROUTES
    for name in DIRECT_ROUTES:
        assert ("POST", named[name].path) in served
    assert ("GET", "/x/webhook") not in served  # the handshakes stay with the app's router
