from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.cli_kb import collect, read_all
from store.db import SessionFactory, create_engine, normalise_database_url, session_factory
from store.knowledge import ArticleInput
from store.migrate import upgrade_engine
from store.uow import UnitOfWork

KB_DATA = Path(__file__).parents[2] / "data" / "kb"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/kb.db"
    return request.getfixturevalue("pg_url")  # type: ignore[no-any-return]


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[SessionFactory]:
    """A migrated, empty database."""
    url, args = normalise_database_url(database_url)
    engine = create_engine(url, connect_args=args)
    await upgrade_engine(engine)
    yield session_factory(engine)
    await engine.dispose()


def evaluation_articles() -> list[ArticleInput]:
    articles, problems = read_all(collect([KB_DATA / "articles"]))
    assert not problems, problems
    return articles


@pytest.fixture
async def loaded(factory: SessionFactory) -> SessionFactory:
    """The 50-article evaluation set, imported."""
    async with UnitOfWork(factory) as uow:
        arts = evaluation_articles()
        # One at a time and in bulk: the ranking must not depend on the way in.
        for art in arts[::2]:
            await uow.knowledge.save(art)
        await uow.knowledge.save_many(arts[1::2])
        await uow.commit()
    return factory
