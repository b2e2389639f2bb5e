"""The report's figures as gauges on `/metrics`, computed from the database and kept a minute."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.desk_gauges import KEEP_SECONDS, DeskGauges
from store.db import SessionFactory
from store.uow import UnitOfWork
from tests.unit.reports.test_metrics import factory, report

__all__ = ["factory"]


def samples(body: bytes) -> dict[str, float]:
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_backlog_and_volume_are_gauges(factory: SessionFactory) -> None:
    await report(factory, commit=True)
    await report(factory, commit=True)
    clock = Clock()
    gauges = DeskGauges(lambda: UnitOfWork(factory), clock=clock)
    seen = samples(await gauges.body())
    assert seen["switchboard_desk_backlog_open"] == 2
    assert seen["switchboard_desk_tickets_created"] == 2
    assert seen["switchboard_desk_backlog_by_age{age=under 1 day}"] == 2

    # Kept for a minute: a scrape storm does not recompute the figures.
    await report(factory, commit=True)
    assert samples(await gauges.body())["switchboard_desk_backlog_open"] == 2
    clock.now += KEEP_SECONDS + 1
    assert samples(await gauges.body())["switchboard_desk_backlog_open"] == 3


async def test_a_database_that_cannot_answer_leaves_the_other_metrics_alone() -> None:
    def broken() -> UnitOfWork:
        raise RuntimeError("no database")

    assert await DeskGauges(broken).body() == b""


async def test_deflections_per_intent_and_verdicts_per_article(factory: SessionFactory) -> None:
    from store.knowledge import ArticleInput

    async with UnitOfWork(factory) as uow:
        await uow.knowledge.save(ArticleInput(slug="vpn-setup", title="VPN", body="Install it."))
        article = await uow.knowledge.by_slug("vpn-setup")
        assert article is not None
        for helpful in (True, True, False):
            await uow.knowledge.record_feedback(article.id, helpful=helpful)
        for outcome in ("deflected", "declined", "deflected"):
            await uow.catalog.record_deflection(
                person_id=None,
                intent="search_knowledge",
                article_id=article.id,
                outcome=outcome,
                channel="slack",
            )
        await uow.commit()
    seen = samples(await DeskGauges(lambda: UnitOfWork(factory)).body())
    assert seen["switchboard_desk_deflections{intent=search_knowledge}{outcome=deflected}"] == 2
    assert seen["switchboard_desk_deflections{intent=search_knowledge}{outcome=declined}"] == 1
    assert seen["switchboard_desk_article_feedback{article=vpn-setup}{verdict=helpful}"] == 2
    assert seen["switchboard_desk_article_feedback{article=vpn-setup}{verdict=not_helpful}"] == 1
