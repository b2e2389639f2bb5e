"""FastAPI's own OpenTelemetry instrumentation runs only where OpenTelemetry is configured."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.telemetry import fastapi_telemetry, wanted


@pytest.mark.parametrize(
    "environ",
    [
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
        {"OTEL_TRACES_EXPORTER": "otlp"},
        {"FASTAPI_OTEL_AUTO_CONFIGURE": "TRUE"},
    ],
)
def test_configured_opentelemetry_keeps_fastapis_defaults(environ: dict[str, str]) -> None:
    assert wanted(environ)
    assert fastapi_telemetry(environ) == {}


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"FASTAPI_OTEL_AUTO_CONFIGURE": "false"},
        {"PATH": "/usr/bin", "MY_OTEL_X": "1"},
        {"OTEL_SDK_DISABLED": "false"},
        {"OTEL_SDK_DISABLED": "true", "OTEL_SERVICE_NAME": "switchboard"},
    ],
)
def test_without_opentelemetry_every_signal_is_off(environ: dict[str, str]) -> None:
    assert not wanted(environ)
    assert fastapi_telemetry(environ) == {"tracing": False, "metrics": False, "logs": False}


def test_the_app_asks_nothing_of_opentelemetry_when_it_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, model_root: Path, tmp_path: Path
) -> None:
    from bot.app import create_app
    from bot.container import Role
    from tests.conftest import make_settings

    for key in [k for k in os.environ if k.startswith("OTEL_")]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", model_root)
    app = create_app(settings, roles=frozenset({Role.WEB}))
    # What FastAPI asks on every request before it instruments one.
    assert not app._native_telemetry.enabled()

    monkeypatch.setenv("OTEL_SERVICE_NAME", "switchboard")
    app = create_app(settings, roles=frozenset({Role.WEB}))
    assert app._telemetry.get("tracing") is True


def test_the_bare_reference_makes_the_same_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    import benchmarks.bare

    signals = ("tracing", "metrics", "logs")
    for environ in ({}, {"OTEL_SERVICE_NAME": "switchboard"}, {"OTEL_SDK_DISABLED": "true"}):
        for key in [k for k in os.environ if k.startswith("OTEL_")]:
            monkeypatch.delenv(key)
        monkeypatch.delenv("FASTAPI_OTEL_AUTO_CONFIGURE", raising=False)
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        bare = importlib.reload(benchmarks.bare)
        on = wanted()
        assert on is ("OTEL_SERVICE_NAME" in environ)
        assert [bare.app._telemetry[k] for k in signals] == [on] * 3
