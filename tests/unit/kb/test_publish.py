"""`switchboard kb drafts` and `kb publish SLUG`: a draft saved in chat becomes an article."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from bot.cli import app
from store.db import create_engine, session_factory
from store.knowledge_drafts import KnowledgeDraft
from store.uow import UnitOfWork
from tests.unit.kb.test_import import database  # noqa: F401  (the migrated database fixture)

runner = CliRunner()


def run(url: str, work: object) -> object:
    async def go() -> object:
        engine = create_engine(url)
        try:
            async with UnitOfWork(session_factory(engine)) as uow:
                result = await work(uow)  # type: ignore[operator]
                await uow.commit()
                return result
        finally:
            await engine.dispose()

    return asyncio.run(go())


async def add_draft(uow: UnitOfWork) -> None:
    await uow.knowledge_drafts.add(
        KnowledgeDraft(
            slug="inc-7-outlook-keeps-asking-for-the-password",
            title="Outlook keeps asking for the password",
            body="Outlook prompts every hour.\n\n## What fixed it\n\nClear Credential Manager.\n",
            tags=["incident"],
            services=["Email"],
            ticket_ref="INC-7",
        )
    )


async def found(uow: UnitOfWork) -> list[str]:
    return [h.article.slug for h in await uow.knowledge.search_text("outlook credential manager")]


def test_a_published_draft_is_found_and_published_once(database: str) -> None:  # noqa: F811
    run(database, add_draft)
    listed = runner.invoke(app, ["kb", "drafts"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.split()[:2] == ["inc-7-outlook-keeps-asking-for-the-password", "INC-7"]
    assert run(database, found) == []

    published = runner.invoke(app, ["kb", "publish", "inc-7-outlook-keeps-asking-for-the-password"])
    assert published.exit_code == 0, published.output
    assert "Published inc-7-outlook-keeps-asking-for-the-password (created)" in published.output
    assert run(database, found) == ["inc-7-outlook-keeps-asking-for-the-password"]
    assert "No drafts waiting." in runner.invoke(app, ["kb", "drafts"]).output

    again = runner.invoke(app, ["kb", "publish", "inc-7-outlook-keeps-asking-for-the-password"])
    assert again.exit_code == 2
    assert "No unpublished draft" in again.output
