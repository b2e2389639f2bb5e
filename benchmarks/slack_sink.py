"""A Slack Web API that answers every call at once, so replies cost the bot nothing extra.

Benchmarks point `SLACK_API_URL` here: the figures then measure Switchboard, not a network.
"""

from __future__ import annotations

import itertools

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()
_ts = itertools.count(1)


# slack_sdk sends some methods (`users.info`) as GET with the arguments in the query.
@app.api_route("/api/{method}", methods=["GET", "POST"])
async def call(method: str, request: Request) -> JSONResponse:
    """Any Web API method: `ok`, plus the fields the bot reads from the methods it calls."""
    await request.body()
    n = next(_ts)
    answer: dict[str, object] = {"ok": True}
    if method == "auth.test":
        answer.update(team_id="T111", user_id="U0SWITCH", bot_id="B0SWITCH", user="switchboard")
    elif method == "users.info":
        answer["user"] = {"id": "W222", "name": "bench", "profile": {}}
    elif method.startswith("chat."):
        answer.update(channel="D111", ts=f"{1700000000 + n}.{n:06d}")
    return JSONResponse(answer)


@app.get("/healthz")
async def healthz() -> JSONResponse:
    """Answers once the server is up, for `wait_healthy`."""
    return JSONResponse({"status": "ok"})
