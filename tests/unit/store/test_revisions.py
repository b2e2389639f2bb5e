"""The schema check without Alembic gives Alembic's answers, and says when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from store.db import create_engine, normalise_database_url
from store.migrate import current_revision, head_revision, upgrade_engine
from store.revisions import database_revision, shipped_head


def _script(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(body, encoding="utf-8")


def test_the_shipped_head_is_alembics() -> None:
    assert shipped_head() == head_revision()
    assert shipped_head() is not None


def test_a_merge_script_leaves_one_head(tmp_path: Path) -> None:
    _script(tmp_path, "a", 'revision = "a"\ndown_revision = None\n')
    _script(tmp_path, "b", 'revision: str = "b"\ndown_revision: str | None = "a"\n')
    _script(tmp_path, "c", "revision = 'c'\ndown_revision = 'a'\n")
    assert shipped_head(tmp_path) is None  # b and c are both heads
    _script(tmp_path, "d", 'revision = "d"\ndown_revision = ("b", "c")\n')
    assert shipped_head(tmp_path) == "d"


def test_a_script_it_cannot_read_leaves_the_answer_to_alembic(tmp_path: Path) -> None:
    _script(tmp_path, "a", 'revision = "a"\ndown_revision = None\n')
    _script(tmp_path, "b", "revision = make_id()\ndown_revision = 'a'\n")
    assert shipped_head(tmp_path) is None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/revisions.db"
    url: str = request.getfixturevalue("pg_url")
    return url


async def test_the_database_revision_is_alembics(database_url: str) -> None:
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    try:
        assert await database_revision(engine) == (None, True)
        await upgrade_engine(engine)
        current = await current_revision(engine)
        assert current is not None
        assert await database_revision(engine) == (current, True)
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('x')"))
        assert await database_revision(engine) == (None, False)
    finally:
        await engine.dispose()
