"""Impact analysis as plain functions: walking from an item to everything that depends on it.

The walk goes level by level, so the caller can fetch each level's edges in one query
(`Walk.frontier` in, `Walk.advance(edges)` back) or hand a whole graph to `dependents`.
Every item is entered once, so a cycle, which the import refuses but a database edited by
hand may still hold, ends the walk instead of looping. Nothing recurses: a chain of any
length is walked in constant stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from store.enums import Criticality, Level

LIMIT = 500
"""Most services an impact lists; the rest are counted."""

RANK = {
    Criticality.CRITICAL: 0,
    Criticality.HIGH: 1,
    Criticality.MEDIUM: 2,
    Criticality.LOW: 3,
}

LEVEL = {
    Criticality.CRITICAL: Level.HIGH,
    Criticality.HIGH: Level.HIGH,
    Criticality.MEDIUM: Level.MEDIUM,
    Criticality.LOW: Level.LOW,
}
"""The impact of an incident on an item, by the most critical service that depends on it."""


@dataclass
class Walk:
    """A breadth-first walk from `start` against the arrows; `depth` holds what was reached.

    `depth[start]` is 0; every other entry is the fewest steps from something it depends on,
    directly or not, to `start`. `max_depth` (None: no bound) stops the walk that far out.
    """

    start: int
    max_depth: int | None = None
    depth: dict[int, int] = field(init=False)
    frontier: list[int] = field(init=False)
    level: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.depth = {self.start: 0}
        self.frontier = [self.start]

    @property
    def done(self) -> bool:
        """Whether the walk has no new items left to visit, or has reached `max_depth`."""
        return not self.frontier

    def advance(self, dependents: Mapping[int, Iterable[int]]) -> None:
        """Take the direct dependents of the current frontier; the new ones become the next."""
        if self.max_depth is not None and self.level >= self.max_depth:
            self.frontier = []
            return
        self.level += 1
        nxt: list[int] = []
        for node in self.frontier:
            for other in dependents.get(node, ()):
                if other not in self.depth:
                    self.depth[other] = self.level
                    nxt.append(other)
        self.frontier = nxt

    def reached(self) -> dict[int, int]:
        """Everything that depends on `start`, with its depth; `start` itself left out."""
        return {k: v for k, v in self.depth.items() if k != self.start}


def dependents(
    start: int, graph: Mapping[int, Iterable[int]], *, max_depth: int | None = None
) -> dict[int, int]:
    """Every item that depends on `start` through `graph` (item → its direct dependents)."""
    walk = Walk(start, max_depth)
    while not walk.done:
        walk.advance(graph)
    return walk.reached()


@dataclass(frozen=True, slots=True)
class Affected:
    """A service that depends on the item, how far away, and its open incidents."""

    id: int
    name: str
    criticality: Criticality
    depth: int
    open_incidents: int = 0


def ranked(services: Iterable[Affected], limit: int = LIMIT) -> tuple[list[Affected], int]:
    """The most critical and nearest first, by name after that.

    At most `limit` of them, and the count of the rest.
    """
    ordered = sorted(services, key=lambda a: (RANK[a.criticality], a.depth, a.name.casefold()))
    return ordered[:limit], max(len(ordered) - limit, 0)


def worst(services: Iterable[Affected]) -> Criticality | None:
    """The highest criticality among the services, None when there are none."""
    levels = [s.criticality for s in services]
    return min(levels, key=RANK.__getitem__) if levels else None


def reason(item: str, services: Iterable[Affected], most: int = 3) -> str:
    """`Payroll and CRM depend on db-cluster-1`: the most critical services, by name."""
    found = list(services)
    top = worst(found)
    names = sorted({s.name for s in found if s.criticality == top}, key=str.casefold)
    if not names:
        return f"nothing depends on {item}"
    shown = names[:most]
    rest = len(names) - len(shown)
    if rest:
        listed = f"{', '.join(shown)} and {rest} more"
    elif len(shown) == 1:
        return f"{shown[0]} depends on {item}"
    else:
        listed = f"{', '.join(shown[:-1])} and {shown[-1]}"
    return f"{listed} depend on {item}"
