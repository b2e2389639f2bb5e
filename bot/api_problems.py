"""`/api/problems`: problems and known errors for agents.

Open a problem over incidents, record the root cause, workaround and symptoms, move it along
new → investigating → known error → resolved → closed (409 naming the allowed stages
otherwise), and link more incidents. Only agents (and admins) use these.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, Field, field_validator

from bot.api_access import Caller, acting_person, caller_context, container, finish
from bot.guards import without_nul
from store.enums import Role, Status, TicketKind
from store.models import Person, Ticket
from store.problems import ProblemRecord, ProblemStage
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/problems", tags=["problems"])

Ref = Annotated[str, Path(max_length=40, pattern=r"^(?i:prb)-\d{1,12}$")]
IncidentRef = Annotated[str, Field(max_length=40, pattern=r"^(?i:inc)-\d{1,12}$")]
Text = Annotated[str, Field(max_length=5000)]


def _clean(value: str | None) -> str | None:
    return None if value is None else without_nul(value)


class ProblemIn(BaseModel):
    """A new problem: its title, the incidents behind it and what is known so far."""

    title: Annotated[str, Field(min_length=1, max_length=300)]
    incidents: list[IncidentRef] = Field(default_factory=list, max_length=200)
    description: Text = ""

    _storable = field_validator("title", "description")(_clean)


class ProblemPatch(BaseModel):
    """What to record on a problem; a key left out (or null) is left as it is."""

    stage: ProblemStage | None = None
    root_cause: Text | None = None
    workaround: Text | None = None
    symptoms: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=50
    )

    _storable = field_validator("root_cause", "workaround")(_clean)


class LinkIn(BaseModel):
    """Incidents to link to a problem, by reference (like `INC-12`)."""

    incidents: list[IncidentRef] = Field(min_length=1, max_length=200)


class ProblemOut(BaseModel):
    """A problem with its record (cause, workaround, symptoms) and its linked incidents."""

    ref: str
    title: str
    status: Status
    stage: ProblemStage
    service: str | None
    root_cause: str
    workaround: str
    symptoms: list[str]
    known_error_at: datetime | None
    incidents: list[str]
    version: int


def _staff(person: Person) -> None:
    if not person.has_role(Role.AGENT):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs the agent role")


async def _problem(uow: UnitOfWork, ref: str) -> Ticket:
    found = await uow.tickets.by_ref(ref)
    if found is None or found.kind is not TicketKind.PROBLEM:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no problem {ref.upper()}")
    return found


async def _incidents(uow: UnitOfWork, refs: list[str]) -> list[Ticket]:
    found = []
    for ref in dict.fromkeys(r.upper() for r in refs):
        t = await uow.tickets.by_ref(ref)
        if t is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no incident {ref}")
        found.append(t)
    return found


async def _out(uow: UnitOfWork, problem: Ticket, record: ProblemRecord) -> ProblemOut:
    return ProblemOut(
        ref=problem.ref,
        title=problem.title,
        status=problem.status,
        stage=record.stage,
        service=problem.service.name if problem.service else None,
        root_cause=record.root_cause,
        workaround=record.workaround,
        symptoms=[str(s) for s in record.symptoms],
        known_error_at=record.known_error_at,
        incidents=[i.ref for i in await uow.problems.incidents(problem)],
        version=problem.version,
    )


@router.get("", response_model=list[ProblemOut], summary="List problems")
async def list_problems(
    request: HttpRequest,
    person: Caller,
    stage: Annotated[ProblemStage | None, Query()] = None,
) -> list[ProblemOut]:
    """Every problem, oldest first, or those at `stage`."""
    _staff(person)
    async with container(request).uow() as uow:
        return [await _out(uow, t, r) for t, r in await uow.problems.listed(stage)]


@router.post(
    "",
    response_model=ProblemOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open a problem",
    responses={403: {"description": "not an agent"}, 422: {"description": "unknown incident"}},
)
async def create_problem(request: HttpRequest, body: ProblemIn, person: Caller) -> ProblemOut:
    """A new problem with the incidents linked; its service is the first incident's."""
    from handlers.problems import ProblemError, open_problem_for

    _staff(person)
    async with container(request).uow() as uow:
        ctx = caller_context(uow, await acting_person(uow, person))
        incidents = await _incidents(uow, body.incidents)
        try:
            problem, record = await open_problem_for(
                ctx, title=body.title, incidents=incidents, description=body.description
            )
        except ProblemError as e:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(e)) from e
        out = await _out(uow, problem, record)
        await finish(request, uow, ctx)
    return out


@router.get("/{ref}", response_model=ProblemOut, summary="A problem")
async def get_problem(request: HttpRequest, ref: Ref, person: Caller) -> ProblemOut:
    """The problem named like `PRB-3`, with its record and linked incidents."""
    _staff(person)
    async with container(request).uow() as uow:
        problem = await _problem(uow, ref)
        return await _out(uow, problem, await uow.problems.record(problem))


@router.patch(
    "/{ref}",
    response_model=ProblemOut,
    summary="Record cause, workaround, symptoms; move the stage",
    responses={
        403: {"description": "not an agent"},
        409: {"description": "a stage the lifecycle does not allow now"},
    },
)
async def patch_problem(
    request: HttpRequest, ref: Ref, body: ProblemPatch, person: Caller
) -> ProblemOut:
    """Record what is known of the problem, or move it to another stage.

    Becoming a `known_error` needs a workaround; new reports on the problem's service that
    match its symptoms are then linked and told the workaround. Becoming `resolved` tells
    the requester of every linked open incident.
    """
    from handlers.problems import ProblemError, Update, update_problem

    _staff(person)
    async with container(request).uow() as uow:
        problem = await _problem(uow, ref)
        ctx = caller_context(uow, await acting_person(uow, person))
        change = Update(
            stage=body.stage,
            root_cause=body.root_cause,
            workaround=body.workaround,
            symptoms=tuple(body.symptoms) if body.symptoms is not None else None,
        )
        try:
            record = await update_problem(ctx, problem, change)
        except ProblemError as e:
            code = status.HTTP_409_CONFLICT if e.conflict else status.HTTP_403_FORBIDDEN
            raise HTTPException(code, str(e)) from e
        out = await _out(uow, problem, record)
        await finish(request, uow, ctx)
    return out


@router.post(
    "/{ref}/incidents",
    response_model=ProblemOut,
    summary="Link incidents",
    responses={403: {"description": "not an agent"}, 422: {"description": "not an incident"}},
)
async def link_incidents(
    request: HttpRequest, ref: Ref, body: LinkIn, person: Caller
) -> ProblemOut:
    """Link more incidents to the problem; those linked already are left as they are."""
    _staff(person)
    async with container(request).uow() as uow:
        problem = await _problem(uow, ref)
        ctx = caller_context(uow, await acting_person(uow, person))
        for inc in await _incidents(uow, body.incidents):
            if inc.kind is not TicketKind.INCIDENT:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT, f"{inc.ref} is not an incident"
                )
            if await uow.problems.link(problem, inc):
                ctx.log(inc, "linked", problem=problem.ref)
        out = await _out(uow, problem, await uow.problems.record(problem))
        await finish(request, uow, ctx)
    return out
