"""`/api/releases`: releases that bundle changes into one window, and their approval.

Agents create releases and add changes; approvers approve or reject a release, which decides
each of its changes waiting for approval under the change approval policy (boards, never the
requester). The release's status follows its changes. A window that ends before it starts or
an unknown change is 400, someone who may not is 403, an unknown release 404, and a change
outside the window, in another release or closed, or a taken name, is 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi import Request as HttpRequest
from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.api_access import Caller, acting_person, caller_context, container, finish
from bot.api_changes import REFUSAL_STATUS
from bot.guards import without_nul
from handlers.change_refusals import ChangeError
from store.changes import ChangeStage
from store.enums import Decision, Role, Status
from store.models import Person
from store.releases import Release, ReleaseStatus
from store.uow import UnitOfWork

router = APIRouter(prefix="/api/releases", tags=["releases"])

Name = Annotated[str, Path(max_length=12, pattern=r"^(?i:r)-\d{1,9}$")]
ChangeRef = Annotated[str, Field(max_length=40, pattern=r"^(?i:chg)-\d{1,12}$")]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give the time zone, like 2026-12-05T22:00:00+01:00")
    return value


class ReleaseIn(BaseModel):
    """A new release: its window, an optional name and title, and the changes it bundles."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(max_length=12, pattern=r"^(?i:r)-\d{1,9}$")] = None
    title: Annotated[str, Field(max_length=300)] = ""
    start: datetime
    end: datetime
    changes: list[ChangeRef] = Field(default_factory=list, max_length=200)

    _tz = field_validator("start", "end")(_aware)

    @field_validator("title")
    @classmethod
    def _storable(cls, value: str) -> str:
        return without_nul(value)


class ChangesIn(BaseModel):
    """Changes to put into a release, by reference (like `CHG-7`)."""

    model_config = ConfigDict(extra="forbid")

    changes: list[ChangeRef] = Field(min_length=1, max_length=200)


class DecisionIn(BaseModel):
    """An approver's decision on a release, with an optional comment."""

    model_config = ConfigDict(extra="forbid")

    comment: Annotated[str, Field(max_length=1000)] = ""

    @field_validator("comment")
    @classmethod
    def _storable(cls, value: str) -> str:
        return without_nul(value)


class ReleaseChangeOut(BaseModel):
    """A change in a release: where it stands and its planned window."""

    ref: str
    title: str
    status: Status
    stage: ChangeStage
    start: datetime | None
    end: datetime | None


class ReleaseOut(BaseModel):
    """A release and its changes; after a decision, the changes decided and those left."""

    name: str
    title: str
    start: datetime
    end: datetime
    status: ReleaseStatus
    requester: str | None
    changes: list[ReleaseChangeOut]
    decided: list[str] = Field(default_factory=list)
    not_decided: list[str] = Field(default_factory=list)


async def _out(uow: UnitOfWork, release: Release, **extra: list[str]) -> ReleaseOut:
    tickets = await uow.releases.changes(release)
    plans = await uow.changes.plans([t.id for t in tickets])
    return ReleaseOut(
        name=release.name,
        title=release.title,
        start=release.starts_at,
        end=release.ends_at,
        status=release.status,
        requester=release.requester.name if release.requester else None,
        changes=[
            ReleaseChangeOut(
                ref=t.ref,
                title=t.title,
                status=t.status,
                stage=plans[t.id].stage if t.id in plans else ChangeStage.PLANNED,
                start=t.planned_start,
                end=t.planned_end,
            )
            for t in tickets
        ],
        **extra,
    )


def _staff(person: Person) -> None:
    if not person.has_role(Role.AGENT, Role.APPROVER):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "releases are for agents and approvers")


async def _release(uow: UnitOfWork, name: str) -> Release:
    found = await uow.releases.by_name(name)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no release {name.upper()}")
    return found


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "an unusable window or an unknown change"},
    403: {"description": "not an agent (creating), or may decide none of its changes"},
    404: {"description": "no such release"},
    409: {"description": "a change outside the window, in another release or closed"},
}


@router.get("", response_model=list[ReleaseOut], summary="Releases, latest window first")
async def list_releases(request: HttpRequest, person: Caller) -> list[ReleaseOut]:
    """The latest 100 releases. Agents and approvers only."""
    _staff(person)
    async with container(request).uow() as uow:
        return [await _out(uow, r) for r in await uow.releases.listed(limit=100)]


@router.post(
    "",
    response_model=ReleaseOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a release",
    responses=_ERRORS,
)
async def create_release(request: HttpRequest, body: ReleaseIn, person: Caller) -> ReleaseOut:
    """A release over [`start`, `end`) with `changes`, each fitting in the window.

    Named `name` (like `R-12`) or the next free `R-n`. Agents only.
    """
    from handlers import releases

    async with container(request).uow() as uow:
        ctx = caller_context(uow, await acting_person(uow, person))
        try:
            made = await releases.create(
                ctx,
                name=body.name,
                start=body.start,
                end=body.end,
                refs=body.changes,
                title=body.title,
            )
        except ChangeError as e:
            raise HTTPException(REFUSAL_STATUS[e.kind], str(e)) from e
        out = await _out(uow, made)
        await finish(request, uow, ctx)
    return out


@router.get("/{name}", response_model=ReleaseOut, summary="A release and its changes")
async def get_release(request: HttpRequest, name: Name, person: Caller) -> ReleaseOut:
    """The release named like `R-12`, with its changes. Agents and approvers only."""
    _staff(person)
    async with container(request).uow() as uow:
        return await _out(uow, await _release(uow, name))


@router.post("/{name}/changes", response_model=ReleaseOut, summary="Add changes", responses=_ERRORS)
async def add_changes(
    request: HttpRequest, name: Name, body: ChangesIn, person: Caller
) -> ReleaseOut:
    """Put more changes into the release; each must fit in its window. Agents only."""
    from handlers import releases

    async with container(request).uow() as uow:
        release = await _release(uow, name)
        ctx = caller_context(uow, await acting_person(uow, person))
        try:
            await releases.add(ctx, release, body.changes)
        except ChangeError as e:
            raise HTTPException(REFUSAL_STATUS[e.kind], str(e)) from e
        out = await _out(uow, release)
        await finish(request, uow, ctx)
    return out


async def _decide(
    request: HttpRequest, name: str, person: Person, decision: Decision, comment: str
) -> ReleaseOut:
    from handlers import releases

    async with container(request).uow() as uow:
        release = await _release(uow, name)
        me = await acting_person(uow, person)
        if not me.has_role(Role.APPROVER):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"only approvers decide {release.name}")
        ctx = caller_context(uow, me)
        try:
            done = await releases.decide(ctx, release, decision, comment)
        except ChangeError as e:
            raise HTTPException(REFUSAL_STATUS[e.kind], str(e)) from e
        out = await _out(uow, release, decided=done.decided, not_decided=done.refused)
        await finish(request, uow, ctx)
    return out


@router.post(
    "/{name}/approve", response_model=ReleaseOut, summary="Approve a release", responses=_ERRORS
)
async def approve_release(
    request: HttpRequest, name: Name, body: DecisionIn, person: Caller
) -> ReleaseOut:
    """Approve each change of the release that waits for approval, under the change policy.

    The changes the caller may not decide (their own, another board's) are listed in
    `not_decided`. 403 when the caller created the release or may decide none.
    """
    return await _decide(request, name, person, Decision.APPROVED, body.comment)


@router.post(
    "/{name}/reject", response_model=ReleaseOut, summary="Reject a release", responses=_ERRORS
)
async def reject_release(
    request: HttpRequest, name: Name, body: DecisionIn, person: Caller
) -> ReleaseOut:
    """Reject each change of the release that waits for approval, under the change policy.

    As with approving, the changes the caller may not decide are listed in `not_decided`.
    """
    return await _decide(request, name, person, Decision.REJECTED, body.comment)
