"""Impact traversal: each dependent once at its shortest distance, cycles end, the cap counts."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.rules.impact import LEVEL, Affected, Walk, dependents, ranked, reason, worst
from store.enums import Criticality, Level

C = Criticality


def test_a_diamond_reaches_the_top_once_at_its_shortest_distance() -> None:
    # db ← app1 ← svc, db ← app2 ← svc, and db ← svc directly.
    graph = {1: [2, 3, 4], 2: [4], 3: [4]}
    assert dependents(1, graph) == {2: 1, 3: 1, 4: 1}
    graph = {1: [2, 3], 2: [4], 3: [4]}
    assert dependents(1, graph) == {2: 1, 3: 1, 4: 2}


def test_a_cycle_ends_the_walk_and_leaves_the_start_out() -> None:
    graph = {1: [2], 2: [3], 3: [1, 4]}
    assert dependents(1, graph) == {2: 1, 3: 2, 4: 3}
    assert dependents(5, {5: [5]}) == {}


def test_depth_is_counted_and_can_be_bounded() -> None:
    chain = {i: [i + 1] for i in range(20)}
    assert dependents(0, chain)[20] == 20
    assert dependents(0, chain, max_depth=8) == {i: i for i in range(1, 9)}


def test_a_very_long_chain_needs_no_recursion() -> None:
    chain = {i: [i + 1] for i in range(50_000)}
    assert len(dependents(0, chain)) == 50_000


def test_the_walk_goes_one_level_at_a_time() -> None:
    walk = Walk(1)
    assert walk.frontier == [1]
    walk.advance({1: [2, 3]})
    assert sorted(walk.frontier) == [2, 3]
    walk.advance({2: [1], 3: []})
    assert walk.done
    assert walk.reached() == {2: 1, 3: 1}


def _affected(n: int, criticality: Criticality = C.LOW, depth: int = 1) -> list[Affected]:
    return [Affected(i, f"svc-{i:04d}", criticality, depth) for i in range(n)]


def test_at_most_500_are_listed_and_the_rest_counted() -> None:
    many = _affected(700) + [Affected(9999, "payroll", C.CRITICAL, 5)]
    listed, more = ranked(many)
    assert len(listed) == 500
    assert more == 201
    assert listed[0].name == "payroll"
    few, rest = ranked(_affected(3))
    assert len(few) == 3
    assert rest == 0


def test_most_critical_then_nearest_then_by_name() -> None:
    found = [
        Affected(1, "b", C.HIGH, 2),
        Affected(2, "a", C.HIGH, 2),
        Affected(3, "z", C.HIGH, 1),
        Affected(4, "crit", C.CRITICAL, 7),
        Affected(5, "low", C.LOW, 1),
    ]
    assert [a.name for a in ranked(found)[0]] == ["crit", "z", "a", "b", "low"]


def test_the_reason_names_the_most_critical_services() -> None:
    found = [
        Affected(1, "Payroll", C.CRITICAL, 1),
        Affected(2, "CRM", C.CRITICAL, 2),
        Affected(3, "Wiki", C.LOW, 1),
    ]
    assert reason("db-cluster-1", found) == "CRM and Payroll depend on db-cluster-1"
    assert reason("db", found[:1]) == "Payroll depends on db"
    four = [Affected(i, n, C.HIGH, 1) for i, n in enumerate("ABCD")]
    assert reason("db", four) == "A, B, C and 1 more depend on db"
    assert reason("db", []) == "nothing depends on db"
    assert worst(found) is C.CRITICAL
    assert worst([]) is None
    assert LEVEL[C.CRITICAL] is Level.HIGH
    assert LEVEL[C.LOW] is Level.LOW


def _reachable(start: int, graph: dict[int, list[int]]) -> set[int]:
    seen: set[int] = set()
    todo = list(graph.get(start, []))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, []))
    return seen - {start}


graphs = st.dictionaries(st.integers(0, 11), st.lists(st.integers(0, 11), max_size=4), max_size=12)


# Graphs of at most 12 nodes: a thousand examples cover their shapes; the fuzz profile's
# 10,000 would only repeat them at a minute and a half of CI time.
@settings(max_examples=1000)
@given(graphs, st.integers(0, 11))
def test_any_graph_cycles_included_gives_exactly_what_is_reachable(
    graph: dict[int, list[int]], start: int
) -> None:
    found = dependents(start, graph)
    assert set(found) == _reachable(start, graph)
    # Each dependent sits one step further than something it depends on.
    for node, depth in found.items():
        assert depth >= 1
        assert any(
            node in graph.get(p, []) and d == depth - 1 for p, d in {**found, start: 0}.items()
        )
