"""The desk configuration in the database: groups, calendars, agreements, suppliers, links.

Also the questions routing asks: who in a group carries how much open work, and how to reach
a person. What the service-level watcher asks is `store.desk_clocks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.config_memo import ConfigMemo
from store.desk_clocks import ServiceLevelQueries
from store.enums import Status
from store.hotpath import reads
from store.models import (
    BusinessCalendar,
    ChannelIdentity,
    Group,
    GroupMember,
    Person,
    PersonSkill,
    Service,
    ServiceLevel,
    ServiceLink,
    Supplier,
    SupplierHandoff,
    Ticket,
)

Named = TypeVar("Named", Group, BusinessCalendar, ServiceLevel, Supplier, Service)

OPEN = (Status.NEW, Status.IN_PROGRESS, Status.ON_HOLD)
"""Statuses that count towards a person's load."""


@dataclass(frozen=True, slots=True)
class MemberLoad:
    """A group member as routing sees them: skills and open tickets assigned."""

    person_id: int
    name: str
    skills: frozenset[str]
    open_tickets: int


class DeskRepository(ServiceLevelQueries):
    """Reads and writes of the desk configuration; one per unit of work.

    What every new ticket reads (the service desk, the agreements, rows by name) is read
    once per unit of work while it changes no configuration (`store.config_memo`).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.memo = ConfigMemo(session, "desk")

    async def named(self, model: type[Named], name: str) -> Named | None:
        """A row of a table with a unique `name`, compared case-insensitively."""
        wanted = name.lower()

        async def load() -> Named | None:
            # None of these models loads another table with a join.
            stmt = (
                select(model)
                .where(func.lower(model.name) == wanted)
                .execution_options(**reads(model.__tablename__))
            )
            return (await self.session.scalars(stmt)).first()

        return await self.memo.get(("named", model, wanted), load)

    async def names(self, model: type[Named]) -> set[str]:
        """Every name in a table, case-folded."""
        return {n.casefold() for n in await self.session.scalars(select(model.name))}

    async def emails(self) -> set[str]:
        """Every email in the directory."""
        found = await self.session.scalars(select(Person.email).where(Person.email.is_not(None)))
        return {e for e in found if e}

    async def upsert(self, model: type[Named], name: str, **fields: Any) -> tuple[Named, list[str]]:
        """Create or update a row by name; the names of the fields that changed.

        A new row reports `["created"]`.
        """
        row = await self.named(model, name)
        if row is None:
            row = model(name=name, **fields)
            self.session.add(row)
            await self.session.flush()
            return row, ["created"]
        changed = [k for k, v in fields.items() if getattr(row, k) != v]
        for k in changed:
            setattr(row, k, fields[k])
        if row.name != name:
            row.name = name
            changed.append("name")
        await self.session.flush()
        return row, changed

    async def add_member(self, group: Group, person: Person) -> bool:
        """Put a person in a group; False when they were in it already."""
        found = await self.session.get(GroupMember, (person.id, group.id))
        if found is not None:
            return False
        self.session.add(GroupMember(person_id=person.id, group_id=group.id))
        await self.session.flush()
        return True

    async def set_links(self, service: Service, relation: str, targets: Iterable[Service]) -> bool:
        """Replace a service's links of one relation; whether anything changed."""
        wanted = {t.id for t in targets}
        stmt = select(ServiceLink.target_id).where(
            ServiceLink.service_id == service.id, ServiceLink.relation == relation
        )
        have = set(await self.session.scalars(stmt))
        if have == wanted:
            return False
        await self.session.execute(
            delete(ServiceLink).where(
                ServiceLink.service_id == service.id, ServiceLink.relation == relation
            )
        )
        self.session.add_all(
            ServiceLink(service_id=service.id, target_id=t, relation=relation) for t in wanted
        )
        await self.session.flush()
        return True

    async def links(self, relation: str | None = None) -> list[tuple[str, str, str]]:
        """Every link as (service name, relation, target name)."""
        source = Service.__table__.alias("source")
        target = Service.__table__.alias("target")
        stmt = (
            select(source.c.name, ServiceLink.relation, target.c.name)
            .join(source, source.c.id == ServiceLink.service_id)
            .join(target, target.c.id == ServiceLink.target_id)
        )
        if relation is not None:
            stmt = stmt.where(ServiceLink.relation == relation)
        return [(a, r, b) for a, r, b in (await self.session.execute(stmt)).all()]

    # -- what routing and service levels read --------------------------------------------

    async def calendars(self) -> list[BusinessCalendar]:
        """Every business calendar."""

        async def load() -> list[BusinessCalendar]:
            return list(await self.session.scalars(select(BusinessCalendar)))

        return list(await self.memo.get("calendars", load))

    async def service_levels(self) -> list[ServiceLevel]:
        """Every service-level agreement, by name."""

        async def load() -> list[ServiceLevel]:
            return list(await self.session.scalars(_SERVICE_LEVELS))

        return list(await self.memo.get("service_levels", load))

    async def supplier(self, supplier_id: int) -> Supplier | None:
        """The supplier with this id, or None."""
        return await self.session.get(Supplier, supplier_id)

    async def group(self, group_id: int) -> Group | None:
        """The group with this id, or None.

        Kept for the unit of work (`store.config_memo`): every new ticket is placed in one,
        and the session would let go of the object between messages.
        """

        async def load() -> Group | None:
            return await self.session.get(Group, group_id, execution_options=reads("groups"))

        return await self.memo.get(("group", group_id), load)

    async def default_group(self) -> Group | None:
        """The service desk: the group marked default, else the one named `service-desk`."""

        async def load() -> Group | None:
            found = (await self.session.scalars(_DEFAULT_GROUP)).first()
            return found or await self.named(Group, "service-desk")

        return await self.memo.get("default_group", load)

    async def members(self, group_id: int) -> list[MemberLoad]:
        """Active members of a group, with skills and open tickets assigned to them."""
        people = list(
            await self.session.scalars(
                select(Person)
                .join(GroupMember, GroupMember.person_id == Person.id)
                .where(GroupMember.group_id == group_id, Person.active.is_(True))
                .order_by(Person.id)
            )
        )
        ids = [p.id for p in people]
        if not ids:
            return []
        skills: dict[int, set[str]] = {i: set() for i in ids}
        for pid, skill in await self.session.execute(
            select(PersonSkill.person_id, PersonSkill.skill).where(PersonSkill.person_id.in_(ids))
        ):
            skills[pid].add(skill.casefold())
        counted = await self.session.execute(
            select(Ticket.assignee_id, func.count(Ticket.id))
            .where(Ticket.assignee_id.in_(ids), Ticket.status.in_(OPEN))
            .group_by(Ticket.assignee_id)
        )
        load = {pid: int(n) for pid, n in counted.all()}
        return [
            MemberLoad(
                person_id=p.id,
                name=p.name,
                skills=frozenset(skills[p.id]),
                open_tickets=load.get(p.id, 0),
            )
            for p in people
        ]

    async def reach(self, person_id: int) -> dict[str, Any] | None:
        """Where to tell a person something personally.

        Where they last wrote from, else a direct message on their linked Slack or Telegram
        account.
        """
        found = await self.session.execute(
            select(
                ChannelIdentity.platform, ChannelIdentity.external_id, ChannelIdentity.last_address
            )
            .where(ChannelIdentity.person_id == person_id, ChannelIdentity.verified.is_(True))
            .order_by(ChannelIdentity.last_seen_at.desc().nulls_last(), ChannelIdentity.id)
        )
        rows = found.all()
        for _platform, _external, last in rows:
            if last:
                return dict(last)
        for platform, external, _last in rows:
            if platform in DIRECT:
                return {"channel": platform, "conversation": external, "user": external}
        return None

    # -- group queues and supplier hand-offs ------------------------------------------------

    async def queue(
        self, group_id: int, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Ticket], int]:
        """A group's open tickets: nobody's first, then by the next due time still to meet.

        The due time is the response while unanswered, else the resolution; tickets without
        a clock come last.
        """
        where = (Ticket.group_id == group_id, Ticket.status.in_(OPEN))
        total = (
            await self.session.execute(select(func.count(Ticket.id)).where(*where))
        ).scalar_one()
        due = case(
            (
                Ticket.responded_at.is_(None),
                func.coalesce(Ticket.response_due_at, Ticket.resolve_due_at),
            ),
            else_=Ticket.resolve_due_at,
        )
        stmt = (
            select(Ticket)
            .where(*where)
            .order_by(Ticket.assignee_id.is_not(None), due.is_(None), due, Ticket.id)
            .limit(limit)
            .offset(offset)
        )
        return list(await self.session.scalars(stmt)), int(total)

    async def supplier_of(self, service_id: int) -> Supplier | None:
        """The supplier running a service, else one running a service it depends on."""
        service = await self.session.get(Service, service_id)
        if service is None:
            return None
        if service.supplier_id is not None:
            return await self.session.get(Supplier, service.supplier_id)
        stmt = (
            select(Supplier)
            .join(Service, Service.supplier_id == Supplier.id)
            .join(ServiceLink, ServiceLink.target_id == Service.id)
            .where(ServiceLink.service_id == service_id, ServiceLink.relation == "depends_on")
            .order_by(Supplier.name)
        )
        return (await self.session.scalars(stmt)).first()

    def hand_off(self, handoff: SupplierHandoff) -> None:
        """Record a hand-off to a supplier in this unit of work."""
        self.session.add(handoff)

    async def handoffs(self, ticket_ids: Sequence[int]) -> dict[int, SupplierHandoff]:
        """The latest hand-off of each of these tickets that has one."""
        if not ticket_ids:
            return {}
        stmt = (
            select(SupplierHandoff)
            .where(SupplierHandoff.ticket_id.in_(list(ticket_ids)))
            .order_by(SupplierHandoff.handed_at, SupplierHandoff.id)
        )
        return {h.ticket_id: h for h in await self.session.scalars(stmt)}


# Read by the first report of each batch: declared, so its queued rows wait for the rest's.
_SERVICE_LEVELS = (
    select(ServiceLevel).order_by(ServiceLevel.name).execution_options(**reads("service_levels"))
)
_DEFAULT_GROUP = (
    select(Group)
    .where(Group.is_default.is_(True))
    .order_by(Group.id)
    .execution_options(**reads("groups"))
)

DIRECT = ("slack", "telegram")
"""Platforms where a person's own id is a conversation a bot may open (a DM, a private chat)."""
