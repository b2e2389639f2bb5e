"""The configuration database as a graph: who depends on what, and every change of an item.

Configuration items are rows of `services` (a service, an application, a server, ...); their
relations are `service_links` (`depends_on`, `runs_on`) and `services.parent_id` (`part_of`).
Impact runs against the arrows, from an item to what depends on it, so both are indexed by
their target here. Reads take id lists in chunks: SQLite and asyncpg both cap the number of
bound parameters in one statement.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from store.config_memo import ConfigMemo
from store.enums import Criticality, Status, TicketKind
from store.hotpath import reads
from store.models import Base, Group, Person, Service, ServiceLink, Supplier, Ticket
from store.types import utcnow

CI_TYPES = (
    "service",
    "application",
    "server",
    "database",
    "network",
    "device",
    "document",
    "supplier-service",
)
"""The kinds of configuration item; `service` is what people use and what impact lists."""

RELATIONS = ("depends_on", "runs_on", "part_of")

OPEN_INCIDENT = (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD)

_CHUNK = 5000

Index("ix_service_links_target_id", ServiceLink.target_id)
Index("ix_services_parent_id", Service.parent_id)
Index("ix_tickets_service_status", Ticket.service_id, Ticket.status)


_SUBGRAPH_SQLITE = """
WITH RECURSIVE reach(id) AS (
    SELECT :item
    UNION
    SELECT l.service_id FROM service_links l JOIN reach r ON l.target_id = r.id
    UNION
    SELECT s.parent_id FROM services s JOIN reach r ON s.id = r.id WHERE s.parent_id IS NOT NULL
)
SELECT l.target_id, l.service_id FROM service_links l WHERE l.target_id IN (SELECT id FROM reach)
UNION ALL
SELECT s.id, s.parent_id FROM services s
WHERE s.id IN (SELECT id FROM reach) AND s.parent_id IS NOT NULL
"""

_SUBGRAPH_PG = """
WITH RECURSIVE reach(id) AS (
    SELECT CAST(:item AS INTEGER)
    UNION
    SELECT up.id FROM reach r CROSS JOIN LATERAL (
        SELECT l.service_id AS id FROM service_links l WHERE l.target_id = r.id
        UNION ALL
        SELECT s.parent_id FROM services s WHERE s.id = r.id AND s.parent_id IS NOT NULL
    ) up
)
SELECT l.target_id, l.service_id FROM service_links l WHERE l.target_id IN (SELECT id FROM reach)
UNION ALL
SELECT s.id, s.parent_id FROM services s
WHERE s.id IN (SELECT id FROM reach) AND s.parent_id IS NOT NULL
"""


class CiEvent(Base):
    """One change of a configuration item: what each field was and became, who, through what."""

    __tablename__ = "ci_events"
    __table_args__ = (Index("ix_ci_events_service", "service_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[Person | None] = relationship(lazy="selectin")


@dataclass(frozen=True, slots=True)
class CiNode:
    """What impact analysis needs of an item."""

    id: int
    name: str
    type: str
    criticality: Criticality


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    items = list(ids)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """`{field: {"from": old, "to": new}}` for every field that differs; all set fields if new."""
    old = before or {}
    return {
        k: {"from": old.get(k), "to": v}
        for k, v in after.items()
        if old.get(k) != v and (before is not None or v not in (None, "", [], {}))
    }


class CmdbRepository:
    """Reads of the item graph and the history of items; one per unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session, "cmdb")

    async def by_name(self, name: str) -> Service | None:
        """An item by name: the exact spelling first (indexed), then case-insensitively."""
        found = (await self.session.scalars(select(Service).where(Service.name == name))).first()
        if found is not None:
            return found
        stmt = select(Service).where(func.lower(Service.name) == name.strip().lower())
        return (await self.session.scalars(stmt)).first()

    async def subgraph(self, item_id: int) -> dict[int, list[int]]:
        """Every dependent link of everything that depends on `item_id`, in one statement.

        The recursive part gathers the items that depend on it (`UNION` drops what was seen, so
        a cycle ends it); the result is the links into those items, item → direct dependents,
        for `handlers.rules.impact` to walk. PostgreSQL allows the recursive table only once in
        the recursive term, hence `LATERAL` there and two recursive selects on SQLite.
        """

        async def load() -> dict[int, list[int]]:
            sql = (
                _SUBGRAPH_PG_TEXT
                if self.session.get_bind().dialect.name == "postgresql"
                else _SUBGRAPH_SQLITE_TEXT
            )
            found: dict[int, list[int]] = {}
            for target, source in await self.session.execute(sql, {"item": item_id}):
                found.setdefault(target, []).append(source)
            return found

        # Read once per unit of work (`store.config_memo`): every new incident asks.
        graph = await self.memo.get(("subgraph", item_id), load)
        return {k: list(v) for k, v in graph.items()}

    async def nodes(self, ids: Collection[int], *, types: Sequence[str] = ()) -> list[CiNode]:
        """The items with these ids, optionally only those of some types."""
        out: list[CiNode] = []
        for chunk in _chunks(ids):
            stmt = select(Service.id, Service.name, Service.type, Service.criticality).where(
                Service.id.in_(chunk)
            )
            if types:
                stmt = stmt.where(Service.type.in_(types))
            out.extend(CiNode(*row) for row in await self.session.execute(stmt))
        return out

    async def open_incidents(self, ids: Collection[int]) -> dict[int, int]:
        """Open incidents per item, for the items that have any."""
        counts: dict[int, int] = {}
        for chunk in _chunks(ids):
            stmt = (
                select(Ticket.service_id, func.count(Ticket.id))
                .where(
                    Ticket.service_id.in_(chunk),
                    Ticket.status.in_(OPEN_INCIDENT),
                    Ticket.kind == TicketKind.INCIDENT,
                )
                .group_by(Ticket.service_id)
            )
            for sid, n in await self.session.execute(stmt):
                if sid is not None:
                    counts[sid] = int(n)
        return counts

    async def parents(self) -> list[tuple[str, str, str]]:
        """Every `part_of` as (item name, "part_of", whole's name)."""
        part = Service.__table__.alias("part")
        whole = Service.__table__.alias("whole")
        stmt = select(part.c.name, whole.c.name).join(whole, whole.c.id == part.c.parent_id)
        return [(a, "part_of", b) for a, b in (await self.session.execute(stmt)).all()]

    async def targets(self, ci: Service, relation: str) -> list[str]:
        """Names of what an item points at through one relation, sorted."""
        if relation == "part_of":
            if ci.parent_id is None:
                return []
            parent = await self.session.get(Service, ci.parent_id)
            return [parent.name] if parent else []
        stmt = (
            select(Service.name)
            .join(ServiceLink, ServiceLink.target_id == Service.id)
            .where(ServiceLink.service_id == ci.id, ServiceLink.relation == relation)
            .order_by(Service.name)
        )
        return list(await self.session.scalars(stmt))

    async def snapshot(self, ci: Service) -> dict[str, Any]:
        """Every field of an item a person edits, references as names: what history compares."""
        owner = await self.session.get(Group, ci.owner_group_id) if ci.owner_group_id else None
        supplier = await self.session.get(Supplier, ci.supplier_id) if ci.supplier_id else None
        part_of = await self.targets(ci, "part_of")
        return {
            "type": ci.type,
            "criticality": Criticality(ci.criticality).value,
            "description": ci.description,
            "owner_group": owner.name if owner else None,
            "aliases": list(ci.aliases or []),
            "supplier": supplier.name if supplier else None,
            "attributes": dict(ci.attributes or {}),
            "depends_on": await self.targets(ci, "depends_on"),
            "runs_on": await self.targets(ci, "runs_on"),
            "part_of": part_of[0] if part_of else None,
        }

    async def record(
        self,
        ci: Service,
        changes: dict[str, Any],
        *,
        action: str,
        source: str,
        actor_id: int | None = None,
    ) -> CiEvent:
        """Write one history event of an item."""
        event = CiEvent(
            service_id=ci.id, actor_id=actor_id, action=action, source=source, changes=changes
        )
        self.session.add(event)
        await self.session.flush()
        return event

    async def history(self, ci: Service) -> list[CiEvent]:
        """Every change of an item, oldest first."""
        stmt = select(CiEvent).where(CiEvent.service_id == ci.id).order_by(CiEvent.id)
        return list(await self.session.scalars(stmt))


# Read by the first report of each batch: declared, so its queued rows wait for the rest's.
_SUBGRAPH_PG_TEXT = text(_SUBGRAPH_PG).execution_options(**reads("service_links", "services"))
_SUBGRAPH_SQLITE_TEXT = text(_SUBGRAPH_SQLITE).execution_options(
    **reads("service_links", "services")
)
