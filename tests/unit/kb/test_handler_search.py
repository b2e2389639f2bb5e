"""The knowledge handler's words reach the ranked search: demo articles, both databases."""

from __future__ import annotations

import pytest

from bot.config import Settings
from handlers.knowledge import search_terms
from nlu.types import IntentName, Understanding
from store.db import create_engine, session_factory
from store.uow import UnitOfWork


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("how do I set up vpn on my phone?", "vpn-setup"),
        ("the printer has a paper jam", "printer-jam"),
        ("my account is locked", "password-reset"),
    ],
)
async def test_the_handler_words_find_the_demo_article_first(
    any_settings: Settings, text: str, expected: str
) -> None:
    nlu = Understanding(text=text, intent=IntentName.SEARCH_KNOWLEDGE, confidence=0.9)
    engine = create_engine(
        any_settings.async_database_url, connect_args=any_settings.database_connect_args
    )
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            found = await uow.knowledge.search(search_terms(nlu))
    finally:
        await engine.dispose()
    assert found
    assert found[0].slug == expected
