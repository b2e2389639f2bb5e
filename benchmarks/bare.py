"""The reference endpoint: same framework and server flags as the web role, no work at all."""

from __future__ import annotations

import os

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# FastAPI's telemetry as the web role sets it (`bot.telemetry`, which a test holds this to),
# without importing the `bot` package, and the logging it sets up, into the reference.
_OTEL = os.environ.get("OTEL_SDK_DISABLED", "").lower() != "true" and (
    any(k.startswith("OTEL_") and k != "OTEL_SDK_DISABLED" for k in os.environ)
    or os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true"
)

app = FastAPI(
    max_body_size=1024 * 1024,
    telemetry={} if _OTEL else {"tracing": False, "metrics": False, "logs": False},
)


@app.post("/bare")
async def bare(request: Request) -> JSONResponse:
    """Read the whole body and answer 202: the least an ingress route can do."""
    await request.body()
    return JSONResponse({"status": "accepted"}, status_code=202)


@app.get("/healthz")
async def healthz() -> JSONResponse:
    """Answers once the server is up, for `wait_healthy`."""
    return JSONResponse({"status": "ok"})
