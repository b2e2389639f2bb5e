"""`switchboard token create`: exactly one of --as or --integration; secrets shown once."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from bot.cli import app
from bot.config import Settings
from store.db import create_engine, session_factory
from store.uow import UnitOfWork

runner = CliRunner()


async def _lookup(settings: Settings, token: str) -> tuple[str | None, list[tuple[str, str]]]:
    engine = create_engine(settings.async_database_url, connect_args=settings.database_connect_args)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            return await uow.integrations.by_token(token), await uow.integrations.signing_secrets()
    finally:
        await engine.dispose()


def test_token_create_needs_exactly_one_subject(demo_settings: Settings) -> None:
    env = {"DATABASE_URL": demo_settings.database_url}
    neither = runner.invoke(app, ["token", "create"], env=env)
    both = runner.invoke(
        app, ["token", "create", "--as", "bob@example.com", "--integration", "x"], env=env
    )
    secret_for_person = runner.invoke(
        app, ["token", "create", "--as", "bob@example.com", "--with-secret"], env=env
    )
    assert neither.exit_code == both.exit_code == secret_for_person.exit_code == 2
    assert "exactly one" in neither.stderr


def test_integration_token_and_secret(demo_settings: Settings) -> None:
    env = {"DATABASE_URL": demo_settings.database_url}
    result = runner.invoke(
        app, ["token", "create", "--integration", "prometheus", "--with-secret"], env=env
    )
    assert result.exit_code == 0, result.output
    token, secret = result.stdout.split()
    name, secrets = asyncio.run(_lookup(demo_settings, token))
    assert name == "prometheus"
    assert secrets == [("prometheus", secret)]

    person = runner.invoke(app, ["token", "create", "--as", "bob@example.com"], env=env)
    assert person.exit_code == 0, person.output
    assert person.stdout.strip().startswith("sb_")
    assert asyncio.run(_lookup(demo_settings, person.stdout.strip()))[0] is None
