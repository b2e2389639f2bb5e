"""The benchmark's generated graph keeps the shape it promises."""

from __future__ import annotations

from benchmarks.cmdb_bench import LAYERS, generate


def test_the_generated_graph_is_layered_capped_and_shallow() -> None:
    graph = generate(2_000, 8_000, max_dependents=20, seed=3)
    assert len(graph.links) == 8_000
    assert len(set(graph.links)) == 8_000
    assert graph.max_dependents <= 20
    assert 1 <= graph.longest_path <= len(LAYERS) - 1
    # Every link points down: the dependent sits in a higher layer than what it depends on.
    assert all(graph.layer[s] > graph.layer[t] for s, t in graph.links)
