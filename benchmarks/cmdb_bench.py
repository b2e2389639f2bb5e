"""`switchboard bench cmdb`: impact analysis on a large generated configuration database.

The graph is layered like a real estate: nine layers from network and hardware at the bottom
to services at the top, every `depends_on` pointing from one layer to a lower one (so no path
is longer than eight steps) and to items near the same position in that layer (a service's
parts live together, so what depends on an item is a neighbourhood, not the whole estate). No
item gets more than `max_dependents` direct dependents.

Each sample is what `GET /api/cmdb/{name}/impact` does for a random item: a unit of work,
the item by name, the walk, the services' details and open incidents. The reference, in the
same run on the same database, is the first step alone: one indexed lookup by name.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from handlers.cmdb import impact
from store.db import create_engine, normalise_database_url, session_factory
from store.migrate import upgrade_engine
from store.models import Service, ServiceLink
from store.uow import UnitOfWork

LAYERS = ("network", "device", "server", "server", "database", "application", "application",
          "supplier-service", "service")  # fmt: skip
"""The type of item in each layer, bottom to top; nine layers, eight steps."""

CRITICALITY = ("low", "medium", "medium", "high", "critical")

Step = Callable[[str, int, int], None]
"""`(task, done, total)`: progress of one phase."""


@dataclass(frozen=True, slots=True)
class Graph:
    """A generated estate: item names, each item's layer and the dependency links."""

    names: list[str]
    layer: list[int]
    links: list[tuple[int, int]]
    """(dependent, what it depends on), indexes into `names`."""

    @property
    def max_dependents(self) -> int:
        """The most direct dependents of any one item."""
        counts: dict[int, int] = {}
        for _, target in self.links:
            counts[target] = counts.get(target, 0) + 1
        return max(counts.values(), default=0)

    @property
    def longest_path(self) -> int:
        """Steps of the longest chain of dependencies (the layers give a topological order)."""
        order = sorted(range(len(self.names)), key=self.layer.__getitem__)
        below: dict[int, list[int]] = {}
        for source, target in self.links:
            below.setdefault(source, []).append(target)
        longest = [0] * len(self.names)
        for node in order:
            longest[node] = max((longest[t] + 1 for t in below.get(node, ())), default=0)
        return max(longest, default=0)


@dataclass(frozen=True, slots=True)
class Figures:
    """One run's measurements: the graph's shape, set-up times, impact and lookup latencies."""

    items: int
    links: int
    max_dependents: int
    longest_path: int
    samples: int
    database: str
    generate_seconds: float
    load_seconds: float
    impact_p50_ms: float
    impact_p95_ms: float
    impact_max_ms: float
    lookup_p50_ms: float
    lookup_p95_ms: float
    ratio_p95: float
    services_listed_median: float
    services_total_max: int

    def as_dict(self) -> dict[str, Any]:
        """The figures by field name, for `--json`."""
        return asdict(self)


def generate(
    items: int, links: int, max_dependents: int, seed: int = 7, step: Step | None = None
) -> Graph:
    """A layered graph with exactly `links` distinct links (when the caps allow it)."""
    rng = random.Random(seed)
    per_layer = items // len(LAYERS)
    layer = [min(i // per_layer, len(LAYERS) - 1) for i in range(items)]
    starts = [layer.index(k) for k in range(len(LAYERS))] + [items]
    names = [f"{LAYERS[layer[i]]}-{i:06d}" for i in range(items)]
    dependents = [0] * items
    chosen: set[tuple[int, int]] = set()
    candidates = [i for i in range(items) if layer[i] > 0]
    tries = 0
    while len(chosen) < links and tries < links * 20:
        tries += 1
        source = rng.choice(candidates)
        k = layer[source]
        # Mostly the layer just below, sometimes one further down (a service straight on a
        # database); always near the same relative position.
        below = k - 1 if k == 1 or rng.random() < 0.8 else k - 2
        lo, hi = starts[below], starts[below + 1]
        pos = (source - starts[k]) / max(starts[k + 1] - starts[k], 1)
        centre = lo + int(pos * (hi - lo))
        target = min(max(centre + rng.randint(-12, 12), lo), hi - 1)
        if dependents[target] >= max_dependents or (source, target) in chosen:
            continue
        chosen.add((source, target))
        dependents[target] += 1
        if step is not None and len(chosen) % 10_000 == 0:
            step("generating", len(chosen), links)
    if step is not None:
        step("generating", len(chosen), links)
    return Graph(names, layer, sorted(chosen))


async def _load(url: str, graph: Graph, step: Step) -> None:
    async_url, connect_args = normalise_database_url(url)
    engine = create_engine(async_url, connect_args=connect_args)
    try:
        await upgrade_engine(engine)
        batch = 10_000
        async with engine.begin() as conn:
            rows = [
                {
                    "id": i + 1,
                    "name": name,
                    "type": LAYERS[graph.layer[i]],
                    "criticality": CRITICALITY[i % len(CRITICALITY)],
                    "aliases": [],
                    "description": "",
                    "skills": [],
                    "attributes": {},
                }
                for i, name in enumerate(graph.names)
            ]
            for n in range(0, len(rows), batch):
                await conn.execute(insert(Service), rows[n : n + batch])
                step("writing items", min(n + batch, len(rows)), len(rows))
            links = [
                {"service_id": s + 1, "target_id": t + 1, "relation": "depends_on"}
                for s, t in graph.links
            ]
            for n in range(0, len(links), batch):
                await conn.execute(insert(ServiceLink), links[n : n + batch])
                step("writing links", min(n + batch, len(links)), len(links))
    finally:
        await engine.dispose()


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000


async def _measure(
    url: str, graph: Graph, samples: int, seed: int, step: Step
) -> tuple[list[float], list[float], list[int], list[int]]:
    async_url, connect_args = normalise_database_url(url)
    engine = create_engine(async_url, connect_args=connect_args)
    factory = session_factory(engine)
    rng = random.Random(seed)
    picks = [rng.choice(graph.names) for _ in range(samples)]
    impact_s: list[float] = []
    lookup_s: list[float] = []
    listed: list[int] = []
    totals: list[int] = []
    try:
        for n, name in enumerate(picks, start=1):
            # Alternate the two so both see the same cache and machine load.
            start = time.perf_counter()
            async with UnitOfWork(factory) as uow:
                found = await uow.cmdb.by_name(name)
            lookup_s.append(time.perf_counter() - start)
            assert found is not None
            start = time.perf_counter()
            async with UnitOfWork(factory) as uow:
                ci = await uow.cmdb.by_name(name)
                assert ci is not None
                result = await impact(uow, ci)
            impact_s.append(time.perf_counter() - start)
            listed.append(len(result.services))
            totals.append(result.total)
            step("measuring", n, samples)
    finally:
        await engine.dispose()
    return impact_s, lookup_s, listed, totals


def run(
    *,
    items: int = 50_000,
    links: int = 200_000,
    max_dependents: int = 20,
    samples: int = 300,
    database_url: str | None = None,
    seed: int = 7,
    step: Step | None = None,
) -> Figures:
    """Generate, load and measure; a throw-away SQLite file unless `database_url` is given."""
    report: Step = step or (lambda task, done, total: None)
    started = time.perf_counter()
    graph = generate(items, links, max_dependents, seed, report)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="sb-cmdb-bench-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'cmdb.db'}"
        started = time.perf_counter()
        asyncio.run(_load(url, graph, report))
        loaded = time.perf_counter() - started
        impact_s, lookup_s, listed, totals = asyncio.run(
            _measure(url, graph, samples, seed, report)
        )
    p95 = _ms(impact_s, 0.95)
    ref95 = _ms(lookup_s, 0.95)
    return Figures(
        items=items,
        links=len(graph.links),
        max_dependents=graph.max_dependents,
        longest_path=graph.longest_path,
        samples=samples,
        database="sqlite" if database_url is None else url.split(":", 1)[0],
        generate_seconds=round(generated, 2),
        load_seconds=round(loaded, 2),
        impact_p50_ms=round(_ms(impact_s, 0.5), 2),
        impact_p95_ms=round(p95, 2),
        impact_max_ms=round(max(impact_s) * 1000, 2),
        lookup_p50_ms=round(_ms(lookup_s, 0.5), 2),
        lookup_p95_ms=round(ref95, 2),
        ratio_p95=round(p95 / ref95, 1) if ref95 else 0.0,
        services_listed_median=statistics.median(listed),
        services_total_max=max(totals),
    )
