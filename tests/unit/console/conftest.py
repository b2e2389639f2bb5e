"""The console's unit tests run on the unit tier's database with the demo desk loaded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.demo import seed_demo
from store.db import SessionFactory, create_engine, session_factory
from store.migrate import upgrade_engine
from store.uow import UnitOfWork


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[SessionFactory]:
    """The unit tier's migrated database (`tests/unit/conftest.py`), with the demo desk."""
    engine = create_engine(database_url)
    await upgrade_engine(engine)
    made = session_factory(engine)
    async with UnitOfWork(made) as uow:
        await seed_demo(uow)
        await uow.commit()
    try:
        yield made
    finally:
        await engine.dispose()
