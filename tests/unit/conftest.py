"""A migrated, empty database for unit tests that need one: SQLite, and PostgreSQL when set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.migrate import upgrade_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/unit.db"
    return normalise_database_url(request.getfixturevalue("pg_url"))[0]


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated, empty database (modules and packages that need a desk override this)."""
    engine = create_engine(database_url)
    await upgrade_engine(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
