"""The service catalog's entries in the desk file (`catalog:`): items people order.

An item carries its form, who approves an order (one step or a chain), who fulfils it with
which tasks and within how long, and who may order it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from bot.desk.fields import (
    BlankIsNone,
    DurationText,
    Entry,
    Name,
    Names,
    as_text,
    role_list,
)
from store.enums import Role


class FormFieldEntry(Entry):
    """One question of an item's form."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: Annotated[str, Field(min_length=1, max_length=200)]
    label_zh: Annotated[str | None, BlankIsNone, Field(max_length=200)] = None
    type: Literal["text", "choice", "date", "email", "person", "ci"] = "text"
    required: bool = True
    choices: Names = ()

    @model_validator(mode="after")
    def _choices(self) -> FormFieldEntry:
        if self.type == "choice" and len(self.choices) < 2:
            raise ValueError("a choice field needs at least two `choices`")
        if self.type != "choice" and self.choices:
            raise ValueError("only a field of type `choice` has `choices`")
        return self


class CatalogApproval(Entry):
    """Who approves an order: nobody, the requester's manager, or a group."""

    by: Literal["none", "manager", "group"] = "none"
    group: Annotated[Name | None, BlankIsNone] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`approval: manager` is `approval: {by: manager}`."""
        return {"by": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _group_named(self) -> CatalogApproval:
        if self.by == "group" and self.group is None:
            raise ValueError("approval by a group needs `group`")
        if self.by != "group" and self.group is not None:
            raise ValueError("`group` is only for approval by a group")
        return self


class CatalogStep(Entry):
    """One step of an approval chain: the manager, a group with a quorum, or a CI's owners."""

    by: Literal["manager", "group", "ci_owner"]
    group: Annotated[Name | None, BlankIsNone] = None
    quorum: Annotated[int, Field(ge=1, le=20)] = 1
    field: Annotated[str | None, BlankIsNone] = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`- manager` is `- {by: manager}`."""
        return {"by": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _complete(self) -> CatalogStep:
        if (self.by == "group") != (self.group is not None):
            raise ValueError("a step `by: group` needs `group`, and only it has one")
        if (self.by == "ci_owner") != (self.field is not None):
            raise ValueError("a step `by: ci_owner` needs `field` (the form field naming the CI)")
        if self.by == "manager" and self.quorum != 1:
            raise ValueError("a manager step has no `quorum`")
        return self


class CatalogTask(Entry):
    """One fulfilment task: done by a group, or by the item's automation."""

    name: Annotated[str, BeforeValidator(as_text), Field(min_length=1, max_length=200)]
    group: Annotated[Name | None, BlankIsNone] = None
    automation: bool = False

    @model_validator(mode="after")
    def _who(self) -> CatalogTask:
        if not self.automation and self.group is None:
            raise ValueError("a task needs `group` (or `automation: true`)")
        return self


class CatalogAutomation(Entry):
    """The webhook an automation task posts the approved request to (signed, retried)."""

    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]


class CatalogFulfilment(Entry):
    """Who fulfils an order, and within how long (the request's resolution target)."""

    group: Name
    target: DurationText | None = None
    tasks: tuple[CatalogTask, ...] = ()
    order: Literal["sequence", "parallel"] = "sequence"


class CatalogOrderers(Entry):
    """Who may order: people with one of `roles` and/or of one of `organisations`."""

    roles: Annotated[tuple[Role, ...], BeforeValidator(role_list)] = ()
    organisations: Names = ()


class CatalogEntry(Entry):
    """An item of the service catalog: its form, approval, fulfilment and who may order it."""

    name: Name
    aliases: Names = ()
    category: Annotated[str, Field(max_length=80)] = ""
    description: Annotated[str, Field(max_length=4000)] = ""
    fields: tuple[FormFieldEntry, ...] = ()
    approval: CatalogApproval = Field(default_factory=CatalogApproval)
    fulfilment: CatalogFulfilment
    ordered_by: CatalogOrderers = Field(default_factory=CatalogOrderers)
    cost: Annotated[str | None, BlankIsNone, BeforeValidator(as_text), Field(max_length=60)] = None
    active: bool = True
    approvals: tuple[CatalogStep, ...] = ()
    automation: CatalogAutomation | None = None

    @model_validator(mode="after")
    def _chain(self) -> CatalogEntry:
        if self.approvals and self.approval.by != "none":
            raise ValueError("give either `approval` or `approvals`, not both")
        names = {f.name for f in self.fields}
        for i, step in enumerate(self.approvals):
            if step.field is not None and step.field not in names:
                raise ValueError(f"`approvals.{i}.field`: {step.field!r} is not a form field")
        automated = any(t.automation for t in self.fulfilment.tasks)
        if automated and self.automation is None:
            raise ValueError("a task with `automation: true` needs the item's `automation`")
        return self

    @field_validator("fields")
    @classmethod
    def _unique_fields(cls, value: tuple[FormFieldEntry, ...]) -> tuple[FormFieldEntry, ...]:
        seen: set[str] = set()
        for f in value:
            if f.name in seen:
                raise ValueError(f"field {f.name!r} is given twice")
            seen.add(f.name)
        return value
