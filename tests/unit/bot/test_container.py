"""The composition root: built without I/O, opened by whoever runs it."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.config import Settings, XSettings
from bot.container import NO_ROLES, Role, build_container
from store.errors import UnavailableError
from store.uow import UNAVAILABLE
from tests.conftest import make_settings
from tests.integration.procs import free_port


def _unreachable(model_root: Path, *, redis: bool = True) -> Settings:
    x = XSettings(_env_file=None, bearer_token="user-token", consumer_secret="cs")  # type: ignore[call-arg, arg-type]
    return make_settings(
        f"postgresql://postgres@127.0.0.1:{free_port()}/switchboard",
        model_root,
        redis_url=f"redis://127.0.0.1:{free_port()}/0" if redis else None,
        secret_key=None,
    ).model_copy(update={"x": x})


def test_building_opens_no_connection(monkeypatch: pytest.MonkeyPatch, model_root: Path) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("no I/O while building")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    container = build_container(_unreachable(model_root))
    assert {"webchat", "x"} <= set(container.channels)
    assert container.worker is None
    assert container.understander is None
    assert attempts == []


def test_a_database_command_builds_no_channel(model_root: Path, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/db.sqlite", model_root)
    assert build_container(settings, roles=NO_ROLES).channels == {}


async def test_the_web_role_opens_without_its_database(model_root: Path) -> None:
    settings = _unreachable(model_root, redis=False)
    async with build_container(settings, roles=frozenset({Role.WEB})) as container:
        assert not container.webchat_secret_ready
        with pytest.raises(UnavailableError):
            container.webchat_secret()


async def test_the_worker_role_does_not(model_root: Path) -> None:
    settings = _unreachable(model_root, redis=False)
    with pytest.raises(UNAVAILABLE):
        async with build_container(settings, roles=frozenset({Role.WORKER})):
            pass
