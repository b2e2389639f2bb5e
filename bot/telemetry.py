"""Whether FastAPI's own OpenTelemetry instrumentation runs: only where OpenTelemetry is set up.

FastAPI asks OpenTelemetry's global providers on every request whether anything listens
(each ask reads the environment); when nothing is configured the answer is always no, and
on the webhooks' acknowledgement path the asking cost about 2 % of the CPU. A deployment
that sets OpenTelemetry up does it through its `OTEL_*` variables (`opentelemetry-instrument`
and the SDK read them) or FastAPI's `FASTAPI_OTEL_AUTO_CONFIGURE`; with any of those set,
FastAPI's spans, metrics and logs are on as FastAPI ships them, unless
`OTEL_SDK_DISABLED=true` switches OpenTelemetry off.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi.telemetry import TelemetryConfig


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the environment configures OpenTelemetry (and does not switch it off)."""
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return any(k.startswith("OTEL_") and k != "OTEL_SDK_DISABLED" for k in environ) or (
        environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true"
    )


def fastapi_telemetry(environ: Mapping[str, str] = os.environ) -> TelemetryConfig:
    """`FastAPI(telemetry=...)`: FastAPI's defaults when wanted, everything off otherwise."""
    if wanted(environ):
        return {}
    return {"tracing": False, "metrics": False, "logs": False}
