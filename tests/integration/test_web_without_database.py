"""`switchboard web` started while the database is unreachable: up, honest 503s, no crash."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

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


@pytest.mark.slow
def test_the_web_role_serves_what_needs_no_storage_and_503_for_the_rest(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = _environment(database_port=free_port(), api_port=free_port())
    tweet = v1_tweet(
        "@TwitterDev the VPN is down",
        tweet_id="1924465506158878979",
        author_id="3001969357",
        screen_name="jb",
        mentions=[(ACCOUNT["id"], ACCOUNT["username"])],
    )
    body = activity_tweets(tweet, for_user_id=ACCOUNT["id"])
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
