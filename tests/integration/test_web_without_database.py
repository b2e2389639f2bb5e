"""`switchboard web` started while the database is unreachable: up, honest 503s, no crash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager

from bot.app import create_app
from bot.config import XSettings
from bot.container import Container, Role
from tests.conftest import make_settings, prepare_database
from tests.fakes.x_api import ACCOUNT, KEYS, activity_tweets, signed_headers, v1_tweet
from tests.integration.procs import free_port, processes, start
from tests.payloads import load

CRC = load("twitter", "crc_and_signature_test_vectors.json")["crc_example"]


def _environment(database_port: int, api_port: int) -> dict[str, str]:
    prefixes = ("SLACK_", "TELEGRAM_", "TWILIO_", "X_", "META_", "REDIS_", "DATABASE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(
        # Nothing listens on either port: every connection is refused.
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{database_port}/switchboard",
        X_API_URL=f"http://127.0.0.1:{api_port}",
        X_CONSUMER_KEY=KEYS["consumer_key"],
        X_CONSUMER_SECRET=CRC["consumer_secret"],
        X_ACCESS_TOKEN=KEYS["access_token"],
        X_ACCESS_TOKEN_SECRET=KEYS["access_token_secret"],
        LOG_LEVEL="WARNING",
        LOG_FORMAT="json",
        ENVIRONMENT="test",
        PYTHONUNBUFFERED="1",
    )
    return env


def _wait_live(url: str, proc, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise AssertionError(f"the web role exited:\n{proc.tail()}")
        try:
            if httpx.get(f"{url}/healthz/live", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the web role did not come up:\n{proc.tail()}")


def _mention() -> bytes:
    tweet = v1_tweet(
        "@TwitterDev the VPN is down",
        tweet_id="1924465506158878979",
        author_id="3001969357",
        screen_name="jb",
        mentions=[(ACCOUNT["id"], ACCOUNT["username"])],
    )
    return activity_tweets(tweet, for_user_id=ACCOUNT["id"])


@pytest.mark.slow
def test_the_web_role_serves_what_needs_no_storage_and_503_for_the_rest(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _environment(database_port=free_port(), api_port=free_port())
    body = _mention()
    with processes(tmp_path) as running:
        web = start(["web", "--port", str(port)], env, tmp_path / "web.log")
        running.append(web)
        _wait_live(url, web)

        crc = httpx.get(f"{url}/x/webhook", params={"crc_token": CRC["crc_token"]}, timeout=10)
        event = httpx.post(
            f"{url}/x/webhook",
            content=body,
            headers={
                **signed_headers(body, CRC["consumer_secret"]),
                "content-type": "application/json",
            },
            timeout=10,
        )
        forged = httpx.post(
            f"{url}/x/webhook", content=body, headers=signed_headers(body), timeout=10
        )
        health = httpx.get(f"{url}/healthz", timeout=10)
        assert web.popen.poll() is None, web.tail()

    assert crc.status_code == 200
    assert crc.json() == CRC["expected_response"]
    assert event.status_code == 503, event.text
    assert "database" in event.json()["error"]
    assert event.headers["retry-after"]
    assert forged.status_code == 401
    assert health.status_code == 503
    assert health.json()["checks"]["database"].startswith("error")


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def _database_behind(port: int, target: str) -> AsyncIterator[asyncio.Server]:
    """A TCP relay to the test database on `port`: the database "comes back" when it starts."""
    host, target_port = urlsplit(target).hostname or "127.0.0.1", urlsplit(target).port or 5432

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, target_port)
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield server
    finally:
        server.close()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.integration
async def test_the_web_role_connects_when_the_database_comes_back(
    pg_url: str, model_root: Path
) -> None:
    await prepare_database(make_settings(pg_url, model_root), demo=False)
    relay_port = free_port()
    behind = urlunsplit(urlsplit(pg_url)._replace(netloc=f"postgres@127.0.0.1:{relay_port}"))
    x = XSettings(
        _env_file=None,  # type: ignore[call-arg]
        consumer_key=KEYS["consumer_key"],
        consumer_secret=CRC["consumer_secret"],  # type: ignore[arg-type]
        access_token=KEYS["access_token"],  # type: ignore[arg-type]
        access_token_secret=KEYS["access_token_secret"],  # type: ignore[arg-type]
        api_url=f"http://127.0.0.1:{free_port()}",
    )
    settings = make_settings(behind, model_root, secret_key=None).model_copy(update={"x": x})
    app = create_app(settings, roles=frozenset({Role.WEB}))
    container: Container = app.state.container
    body = _mention()
    headers = {**signed_headers(body, CRC["consumer_secret"]), "content-type": "application/json"}
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sb") as http,
    ):
        down = await http.post("/x/webhook", content=body, headers=headers)
        assert down.status_code == 503
        assert not container.webchat_secret_ready

        async def healthy() -> bool:
            return (await http.get("/healthz")).status_code == 200

        async with _database_behind(relay_port, pg_url):
            await _until(healthy)
            back = await http.post("/x/webhook", content=body, headers=headers)

            async def secret_loaded() -> bool:
                return container.webchat_secret_ready

            await _until(secret_loaded)
            assert back.status_code == 200, back.text
            assert back.json() == {"accepted": 1, "duplicate": 0}
            # Pooled connections run through the relay: closed before it is.
            await container.engine.dispose()
