"""`switchboard import` through Typer: the dry run shows a table and leaves the database alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from store.db import create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

runner = CliRunner()
DESK = Path(__file__).parents[3] / "deploy" / "desk.example.yml"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.chdir(tmp_path)  # settings read ./.env: there is none here

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade_engine(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return url


def people(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                return await uow.people.count()
        finally:
            await engine.dispose()

    return asyncio.run(count())


def test_dry_run_prints_what_would_change_and_applies_nothing(database: str) -> None:
    result = runner.invoke(app, ["import", str(DESK), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "What would change" in result.output
    assert "acme-gold" in result.output
    assert "Would apply" in result.output
    assert people(database) == 0

    applied = runner.invoke(app, ["import", str(DESK)])
    assert applied.exit_code == 0, applied.output
    assert people(database) == 5

    again = runner.invoke(app, ["import", str(DESK), "--dry-run"])
    assert again.exit_code == 0, again.output
    assert "0 new, 0 changed" in again.output


def test_a_bad_file_is_refused_with_every_problem(database: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "groups: [{name: g, lead: ghost@example.com}]\nservices: [{name: S, owner_group: h}]\n"
    )
    result = runner.invoke(app, ["import", str(DESK), str(bad)])
    assert result.exit_code == 2
    assert "Nothing was imported; 2 problem(s)" in result.output
    assert "bad.yml: groups #1 (g): `lead`: unknown person 'ghost@example.com'" in result.output
    assert "bad.yml: services #1 (S): `owner_group`: unknown group 'h'" in result.output
    assert people(database) == 0


def test_a_missing_file_is_a_usage_error(database: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["import", str(tmp_path / "nope.yml")])
    assert result.exit_code == 2
    assert "No such file" in result.output
