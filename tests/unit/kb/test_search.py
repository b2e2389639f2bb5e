"""The index follows every write; filters by service and language; feedback is kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, text

from store.db import SessionFactory, create_engine, session_factory
from store.knowledge import ArticleInput, Outcome
from store.migrate import upgrade_engine
from store.uow import UnitOfWork


async def slugs(
    factory: SessionFactory,
    query: str,
    *,
    service: str | None = None,
    language: str | None = None,
    limit: int = 5,
    about: str | None = None,
) -> list[str]:
    async with UnitOfWork(factory) as uow:
        hits = await uow.knowledge.search_text(
            query, service=service, language=language, limit=limit, about=about
        )
        return [h.article.slug for h in hits]


async def test_both_languages_are_found(loaded: SessionFactory) -> None:
    assert (await slugs(loaded, "printer jam"))[0] == "printer-jam"
    assert (await slugs(loaded, "打印机卡纸"))[0] == "zh-printer-jam"
    assert await slugs(loaded, "zzzz qqqq") == []
    assert await slugs(loaded, "   ?? ") == []


async def test_the_service_filter_keeps_only_articles_about_that_service(
    loaded: SessionFactory,
) -> None:
    every = await slugs(loaded, "phone", limit=50)
    identity = await slugs(loaded, "phone", service="identity")
    assert {"email-mobile", "mfa-new-phone"} <= set(every)
    assert identity
    assert "email-mobile" not in identity
    assert set(identity) <= {"mfa-new-phone", "mfa-lost-phone", "password-reset"}
    assert await slugs(loaded, "phone", service="Payroll") == []


async def test_a_question_about_a_service_leaves_out_only_other_services_articles(
    loaded: SessionFactory,
) -> None:
    async with UnitOfWork(loaded) as uow:
        await uow.knowledge.save(
            ArticleInput(slug="phone-basics", title="Phone basics", body="Restart the phone.")
        )
        await uow.commit()
    about = await slugs(loaded, "phone", about="identity", limit=50)
    assert {"mfa-new-phone", "phone-basics"} <= set(about)
    assert "email-mobile" not in about


async def test_the_language_filter(loaded: SessionFactory) -> None:
    found = await slugs(loaded, "vpn", language="zh")
    assert found
    assert all(s.startswith("zh-") for s in found)


async def test_a_changed_body_is_searched_as_changed_and_a_rollback_leaves_the_index(
    loaded: SessionFactory,
) -> None:
    new = ArticleInput(
        slug="badge-lost",
        title="Lost building badge",
        body="Tell the concierge; a replacement lanyard is issued.",
        tags=["badge"],
        services=["Facilities"],
    )
    async with UnitOfWork(loaded) as uow:
        assert await uow.knowledge.save(new) is Outcome.NEW_VERSION
        # Not committed: the rollback must take the index change with it.
    assert "badge-lost" not in await slugs(loaded, "lanyard")
    assert "badge-lost" in await slugs(loaded, "reception")

    async with UnitOfWork(loaded) as uow:
        await uow.knowledge.save(new)
        await uow.commit()
    assert await slugs(loaded, "lanyard") == ["badge-lost"]
    assert "badge-lost" not in await slugs(loaded, "reception")


async def test_the_legacy_word_list_search_ranks_too(loaded: SessionFactory) -> None:
    async with UnitOfWork(loaded) as uow:
        found = await uow.knowledge.search(["vpn", "phone"])
    assert found[0].slug == "vpn-setup-phone"
    assert len(found) == 3


async def test_feedback_is_counted_per_article(loaded: SessionFactory) -> None:
    async with UnitOfWork(loaded) as uow:
        art = await uow.knowledge.by_slug("wifi-guest")
        assert art is not None
        await uow.knowledge.record_feedback(art.id, helpful=True, channel="slack")
        await uow.knowledge.record_feedback(art.id, helpful=True)
        await uow.knowledge.record_feedback(art.id, helpful=False, comment="code expired")
        await uow.commit()
    async with UnitOfWork(loaded) as uow:
        assert await uow.knowledge.feedback_counts(art.id) == (2, 1)


async def test_articles_stored_before_the_migration_are_indexed_by_it(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/old.db")
    try:
        await upgrade_engine(engine, "0007")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO knowledge_articles (slug, title, body, tags, updated_at)"
                    " VALUES ('vpn', 'VPN 设置', 'Install GlobalProtect.', '[\"remote\"]',"
                    " '2026-01-01 00:00:00')"
                )
            )
        await upgrade_engine(engine)
        factory = session_factory(engine)
        assert await slugs(factory, "globalprotect") == ["vpn"]
        assert await slugs(factory, "设置") == ["vpn"]
        assert await slugs(factory, "remote") == ["vpn"]
        async with UnitOfWork(factory) as uow:
            assert [v.version for v in await uow.knowledge.versions(1)] == [1]
    finally:
        await engine.dispose()


async def test_bulk_saving_creates_the_new_and_versions_the_known(loaded: SessionFactory) -> None:
    known = ArticleInput(slug="desk-booking", title="Book a desk", body="Use the new app.")
    fresh = ArticleInput(
        slug="parking", title="Book a parking space", body="Ask reception.", services=["Car"]
    )
    async with UnitOfWork(loaded) as uow:
        counts = await uow.knowledge.save_many([known, fresh])
        await uow.commit()
    assert counts == {Outcome.NEW_VERSION: 1, Outcome.CREATED: 1}
    assert await slugs(loaded, "parking", service="car") == ["parking"]
    async with UnitOfWork(loaded) as uow:
        art = await uow.knowledge.by_slug("desk-booking")
        assert art is not None
        assert [v.version for v in await uow.knowledge.versions(art.id)] == [1, 2]


async def test_articles_with_every_word_come_before_those_with_some(
    factory: SessionFactory,
) -> None:
    """An article about one word alone, however often it says it, ranks below one with all."""
    async with UnitOfWork(factory) as uow:
        await uow.knowledge.save_many(
            [
                ArticleInput(
                    slug="printer-everything",
                    title="Printer printer printer",
                    body="The printer. Printer queues, printer drivers, printer settings.",
                    tags=["printer"],
                ),
                ArticleInput(
                    slug="toner-swap",
                    title="Change the toner",
                    body="Open the printer's front door and swap the toner cartridge.",
                ),
                ArticleInput(slug="unrelated", title="Book a room", body="Use the calendar."),
            ]
        )
        await uow.commit()
    found = await slugs(factory, "printer toner cartridge")
    assert found[0] == "toner-swap"
    assert "printer-everything" in found
    assert "unrelated" not in found
    # Fewer articles with every word than asked for: the rest follow, none repeated.
    assert len(found) == len(set(found)) == 2


def test_the_postgresql_stages_go_from_every_term_to_any_term() -> None:
    from store.knowledge_search import pg_stages

    assert pg_stages(["vpn"]) == ["'vpn':AB", "'vpn'"]
    assert pg_stages(["vpn", "drop", "home"]) == [
        "'vpn' & 'drop' & 'home'",
        "('drop' & 'home') | ('vpn' & 'home') | ('vpn' & 'drop')",
        "'vpn':AB | 'drop':AB | 'home':AB",
        "'vpn' | 'drop' | 'home'",
    ]


async def test_articles_with_more_of_the_terms_come_before_those_with_one(
    factory: SessionFactory,
) -> None:
    """Ranking reads only some matches of a common term: those with more terms come first."""
    async with UnitOfWork(factory) as uow:
        await uow.knowledge.save_many(
            [
                ArticleInput(
                    slug=f"common-{i}",
                    title="Printer printer",
                    tags=["printer"],
                    body="printer " * 20,
                )
                for i in range(40)
            ]
            + [
                ArticleInput(
                    slug="two-of-three",
                    title="Paper feed",
                    body="When the feed stops, check the scanner and the tray. "
                    + "Office equipment notes. " * 40,
                ),
            ]
        )
        await uow.commit()
    found = await slugs(factory, "printer scanner tray", limit=3)
    assert found[0] == "two-of-three"
    assert len(found) == 3


async def test_new_articles_skip_the_gin_pending_list(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        if uow.session.get_bind().dialect.name != "postgresql":
            return
        options = await uow.session.scalar(
            text(
                "SELECT reloptions FROM pg_class WHERE relname = 'ix_knowledge_articles_search_vector'"
            )
        )
    assert options == ["fastupdate=off"]


async def test_a_search_through_every_stage_is_one_statement(loaded: SessionFactory) -> None:
    """Four terms make four stages on PostgreSQL; they go in one statement, then the articles."""
    seen: list[str] = []

    @event.listens_for(loaded.kw["bind"].sync_engine, "before_cursor_execute")
    def _seen(_c: object, _cur: object, sql: str, *_a: object) -> None:
        seen.append(sql)

    found = await slugs(loaded, "zzzz qqqq printer xxxx", limit=50)
    assert found, "the last stage (any term) finds the printer articles"
    searches = [s for s in seen if "knowledge_fts MATCH" in s or "search_vector @@" in s]
    assert len(searches) == 1
