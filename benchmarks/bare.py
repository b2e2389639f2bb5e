"""The reference endpoint: same framework and server flags as the web role, no work at all."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.telemetry import fastapi_telemetry

app = FastAPI(max_body_size=1024 * 1024, telemetry=fastapi_telemetry())


@app.post("/bare")
async def bare(request: Request) -> JSONResponse:
    """Read the whole body and answer 202: the least an ingress route can do."""
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


@app.get("/healthz")
async def healthz() -> JSONResponse:
    """Answers once the server is up, for `wait_healthy`."""
    return JSONResponse({"status": "ok"})
