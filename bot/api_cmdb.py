"""`/api/cmdb`: configuration items, what an outage of one touches, and who changed what.

Reading takes any valid token; the history takes an agent, approver or admin; editing takes
an admin. Items are named in the path; a name that is no item is a 404 saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel

from bot.api_access import Caller, container
from bot.desk.cmdb_schema import CiFields
from handlers.cmdb import CiSpec, CmdbError, impact, save
from handlers.rules.impact import LIMIT
from store.cmdb import CiEvent
from store.enums import Criticality, Role
from store.models import Person, Service
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/cmdb", tags=["cmdb"])

ItemName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=120,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The item's name (no control characters).",
    ),
]


class CiOut(BaseModel):
    """A configuration item as the CMDB holds it, with its relationships by name."""

    name: str
    type: str
    criticality: Criticality
    description: str
    owner_group: str | None
    aliases: list[str]
    supplier: str | None
    attributes: dict[str, Any]
    depends_on: list[str]
    runs_on: list[str]
    part_of: str | None


class AffectedOut(BaseModel):
    """A service an outage reaches: how many hops away, and its open incidents."""

    name: str
    criticality: Criticality
    depth: int
    open_incidents: int


class ImpactOut(BaseModel):
    """What an outage of `item` touches; `more` counts the services past the listed ones."""

    item: str
    total: int
    more: int
    services: list[AffectedOut]


class CiEventOut(BaseModel):
    """One import or edit of an item: when, who, through what, and each field's change."""

    at: datetime
    action: str
    source: str
    actor: str | None
    changes: dict[str, Any]

    @classmethod
    def of(cls, e: CiEvent) -> CiEventOut:
        """The event as the API shows it, the actor by name."""
        return cls(
            at=e.at,
            action=e.action,
            source=e.source,
            actor=e.actor.name if e.actor else None,
            changes=e.changes,
        )


async def _item(uow: UnitOfWork, name: str) -> Service:
    found = await uow.cmdb.by_name(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no configuration item named {name!r}")
    return found


async def _out(uow: UnitOfWork, ci: Service) -> CiOut:
    return CiOut(name=ci.name, **await uow.cmdb.snapshot(ci))


def _require(person: Person, *roles: Role) -> None:
    if not person.has_role(*roles):
        wanted = " or ".join(r.value for r in roles)
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {wanted} role")


@router.get("/{name}", response_model=CiOut, summary="Get a configuration item")
async def get_item(request: HttpRequest, name: ItemName, person: Caller) -> CiOut:
    """The item with its fields and relationships; any valid token may read it."""
    async with container(request).uow() as uow:
        return await _out(uow, await _item(uow, name))


@router.get(
    "/{name}/impact",
    response_model=ImpactOut,
    summary="What an outage of the item touches",
    responses={404: {"description": "no such item"}},
)
async def get_impact(request: HttpRequest, name: ItemName, person: Caller) -> ImpactOut:
    """Services that depend on the item, transitively, most critical first.

    Dependence runs through `depends_on`, `runs_on` and `part_of`; each service comes with
    its open incidents. At most 500 are listed, `more` counts the rest.
    """
    async with container(request).uow() as uow:
        found = await impact(uow, await _item(uow, name), LIMIT)
    return ImpactOut(
        item=found.item,
        total=found.total,
        more=found.more,
        services=[
            AffectedOut(
                name=a.name,
                criticality=a.criticality,
                depth=a.depth,
                open_incidents=a.open_incidents,
            )
            for a in found.services
        ],
    )


@router.get(
    "/{name}/history",
    response_model=list[CiEventOut],
    summary="Every change of the item",
    responses={403: {"description": "not staff"}, 404: {"description": "no such item"}},
)
async def get_history(request: HttpRequest, name: ItemName, person: Caller) -> list[CiEventOut]:
    """Imports and edits, oldest first: each field's value before and after, who, through what."""
    _require(person, Role.AGENT, Role.APPROVER)
    async with container(request).uow() as uow:
        return [CiEventOut.of(e) for e in await uow.cmdb.history(await _item(uow, name))]


@router.put(
    "/{name}",
    response_model=CiOut,
    summary="Create or replace a configuration item",
    responses={
        201: {"description": "created"},
        403: {"description": "not an admin"},
        422: {"description": "unknown type, unknown name, or a cycle"},
    },
)
async def put_item(
    request: HttpRequest, response: Response, name: ItemName, body: CiFields, person: Caller
) -> CiOut:
    """The item becomes exactly the body; a key left out takes its default.

    The change is recorded in the item's history. Admins only.
    """
    _require(person, Role.ADMIN)
    spec = CiSpec(
        type=body.type,
        criticality=body.criticality,
        description=body.description,
        owner_group=body.owner_group,
        aliases=body.aliases,
        supplier=body.supplier,
        attributes=dict(body.attributes),
        depends_on=body.depends_on,
        runs_on=body.runs_on,
        part_of=body.part_of,
        skills=body.skills,
    )
    async with container(request).uow() as uow:
        try:
            saved = await save(uow, name.strip(), spec, actor=person)
        except CmdbError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
        out = await _out(uow, saved.ci)
        await uow.commit()
    if saved.created:
        response.status_code = status.HTTP_201_CREATED
    return out
