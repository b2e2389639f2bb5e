"""The report's figures as Prometheus gauges, so dashboards and alerts need no SQL.

The figures come from the database, so every web process would report the same values: they
are computed at scrape time (over the last 30 days, as `switchboard report` does by default)
and appended to the exposition instead of being written to the multiprocess directory. A
scrape every few seconds must not recompute them each time, so they are kept for a minute.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from store.types import utcnow
from store.uow import UnitOfWork

if TYPE_CHECKING:
    from handlers.rules.figures import Figures

log = structlog.get_logger(__name__)

WINDOW = timedelta(days=30)
KEEP_SECONDS = 60.0
PREFIX = "switchboard_desk_"


def _gauge(name: str, help_text: str, value: float | None) -> GaugeMetricFamily | None:
    if value is None:
        return None
    return GaugeMetricFamily(PREFIX + name, help_text, value=value)


def _labelled(
    name: str, help_text: str, label: str, values: Mapping[str, float | None]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, help_text, labels=[label])
    for key, value in sorted(values.items()):
        if value is not None:
            family.add_metric([key or "none"], value)
    return family


def families(f: Figures) -> Iterator[GaugeMetricFamily]:
    """Every figure that is a number now, as one gauge family each (30-day window)."""
    single = [
        _gauge("tickets_created", "Tickets opened in the last 30 days.", f.tickets_created),
        _gauge("backlog_open", "Open tickets now.", f.backlog_open),
        _gauge(
            "backlog_age_hours_median", "Median age of open tickets.", f.backlog_age_hours_median
        ),
        _gauge("backlog_age_hours_max", "Age of the oldest open ticket.", f.backlog_age_hours_max),
        _gauge("mtta_minutes", "Mean time to acknowledge, 30 days.", f.mtta_minutes),
        _gauge("mttr_minutes", "Mean time to resolve, 30 days.", f.mttr_minutes),
        _gauge(
            "response_sla_attainment_ratio",
            "Share of response targets met, 30 days.",
            f.response_targets.attainment,
        ),
        _gauge(
            "resolution_sla_attainment_ratio",
            "Share of resolution targets met, 30 days.",
            f.resolution_targets.attainment,
        ),
        _gauge(
            "supplier_sla_attainment_ratio",
            "Share of supplier resolution targets met, 30 days.",
            f.supplier_sla_attainment,
        ),
        _gauge(
            "first_contact_resolution_ratio",
            "Share of resolved tickets solved at first contact, 30 days.",
            f.first_contact_resolution,
        ),
        _gauge(
            "deflection_ratio", "Share of questions answered without a ticket.", f.deflection_rate
        ),
        _gauge(
            "nlu_fallback_ratio",
            "Clarifications and out-of-scope answers per message, 30 days.",
            f.nlu_fallbacks / f.nlu_messages if f.nlu_messages else None,
        ),
        _gauge("csat_score_mean", "Mean satisfaction score (1-5), 30 days.", f.csat_score_mean),
        _gauge(
            "change_approval_minutes_mean",
            "Mean time from a change's request to its decision, 30 days.",
            f.change_approval_minutes_mean,
        ),
    ]
    yield from (g for g in single if g is not None)
    yield _labelled(
        "mtta_minutes_by_priority", "MTTA by priority.", "priority", f.mtta_minutes_by_priority
    )
    yield _labelled(
        "mttr_minutes_by_priority", "MTTR by priority.", "priority", f.mttr_minutes_by_priority
    )
    yield _labelled(
        "sla_attainment_ratio_by_group",
        "SLA attainment by group.",
        "group",
        f.sla_attainment_by_group,
    )
    yield _labelled("csat_score_by_group", "Satisfaction by group.", "group", f.csat_by_group)
    yield _labelled(
        "csat_score_by_channel", "Satisfaction by channel.", "channel", f.csat_by_channel
    )
    yield _labelled(
        "backlog_by_age",
        "Open tickets by age band.",
        "age",
        {k: float(v) for k, v in f.backlog_by_age.items()},
    )


@dataclass(frozen=True, slots=True)
class Knowledge:
    """What knowledge did, as stored: offers by intent and outcome, verdicts by article."""

    deflections: Mapping[tuple[str, str], int] = field(default_factory=dict)
    feedback: Mapping[tuple[str, bool], int] = field(default_factory=dict)


def knowledge_families(k: Knowledge) -> Iterator[GaugeMetricFamily]:
    """Deflection offers per intent and outcome, and verdicts per article (all time)."""
    offers = GaugeMetricFamily(
        PREFIX + "deflections",
        "Knowledge offers made before a ticket, by intent and how they ended (all time).",
        labels=["intent", "outcome"],
    )
    for (intent, outcome), n in sorted(k.deflections.items()):
        offers.add_metric([intent, outcome], n)
    yield offers
    verdicts = GaugeMetricFamily(
        PREFIX + "article_feedback",
        "Verdicts on knowledge articles, by article and verdict (the 200 judged most).",
        labels=["article", "verdict"],
    )
    for (slug, helpful), n in sorted(k.feedback.items()):
        verdicts.add_metric([slug, "helpful" if helpful else "not_helpful"], n)
    yield verdicts


class _Fixed(Collector):
    def __init__(self, figures: Figures, knowledge: Knowledge) -> None:
        self.figures = figures
        self.knowledge = knowledge

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from families(self.figures)
        yield from knowledge_families(self.knowledge)


def render(figures: Figures, knowledge: Knowledge | None = None) -> bytes:
    """The gauges in Prometheus' text format."""
    registry = CollectorRegistry()
    registry.register(_Fixed(figures, knowledge or Knowledge()))
    return generate_latest(registry)


class DeskGauges:
    """The rendered gauges, recomputed at most once a minute, one computation at a time."""

    def __init__(
        self, reader: Callable[[], UnitOfWork], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._reader = reader
        self._clock = clock
        self._body = b""
        self._at: float | None = None
        self._lock = asyncio.Lock()

    async def body(self) -> bytes:
        """The gauges' text; empty (and logged) if the figures cannot be computed."""
        if self._fresh():
            return self._body
        async with self._lock:
            if not self._fresh():
                self._body = await self._compute(self._figures)
                self._at = self._clock()
        return self._body

    def _fresh(self) -> bool:
        return self._at is not None and self._clock() - self._at < KEEP_SECONDS

    async def _figures(self) -> tuple[Figures, Knowledge]:
        # Imported at the first scrape: the report's rules are not otherwise needed by the web
        # role, and many deployments are never scraped.
        from handlers.reports import desk_figures

        until = utcnow()
        async with self._reader() as uow:
            # Sentiment needs the model; a scrape must stay cheap.
            figures = await desk_figures(uow, since=until - WINDOW, until=until, sentiment=False)
            knowledge = Knowledge(
                deflections=await uow.catalog.deflection_counts(),
                feedback=await uow.knowledge.feedback_by_article(),
            )
            return figures, knowledge

    @staticmethod
    async def _compute(figures: Callable[[], Awaitable[tuple[Figures, Knowledge]]]) -> bytes:
        try:
            return render(*await figures())
        except Exception as e:  # a scrape must answer even when the figures cannot be had
            log.warning("metrics.desk_figures_failed", error=type(e).__name__)
            return b""
