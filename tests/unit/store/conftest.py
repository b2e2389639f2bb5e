from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.migrate import upgrade_engine


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated, empty database."""
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    await upgrade_engine(engine)
    yield session_factory(engine)
    await engine.dispose()
