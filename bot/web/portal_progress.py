"""Where a catalog order stands, as its requester sees it on the portal.

Each approval step and each fulfilment task is shown, in the person's language.

The figures come from the same place as the REST API's `GET /api/catalog/requests/{ref}`
(`bot.catalog_orders.progress`), so the portal, the API and chat never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from bot import catalog_orders as orders
from bot.web.auth import container_of
from bot.web.i18n import Translate
from store.enums import Status, TicketKind
from store.models import Person, Ticket


@dataclass(frozen=True, slots=True)
class StepView:
    """One approval step: who decides, how many approvals it has and needs, and its state."""

    title: str
    count: str
    state: str
    label: str


@dataclass(frozen=True, slots=True)
class TaskView:
    """One fulfilment task: its reference, name, group and state."""

    ref: str
    name: str
    group: str
    state: str
    label: str


async def order_progress(
    request: Request, person: Person, ticket: Ticket, t: Translate
) -> tuple[list[StepView], list[TaskView]]:
    """The steps and tasks of the person's catalog request (empty for any other ticket)."""
    if ticket.kind is not TicketKind.REQUEST:
        return [], []
    try:
        found = await orders.progress(container_of(request), person.id, ticket.ref)
    except orders.OrderRefused:
        # A request typed in free text has no catalog order behind it.
        return [], []
    current = int(found["step"] or 0)
    waiting = found["status"] == Status.AWAITING_APPROVAL.value
    steps = []
    for s in found["approvals"]:
        if s["rejected"]:
            state = "rejected"
        elif s["approved"] >= s["quorum"] or (not waiting and found["status"] != "rejected"):
            state = "approved"
        elif waiting and s["step"] == current:
            state = "waiting"
        else:
            state = "later"
        steps.append(
            StepView(
                title=t("progress.step", step=s["step"], label=s["label"]),
                count=t("progress.count", approved=s["approved"], quorum=s["quorum"]),
                state=state,
                label=t(f"progress.step.{state}"),
            )
        )
    tasks = [
        TaskView(
            ref=str(k["ref"]),
            name=str(k["name"]),
            group=str(k["group"] or ""),
            state=str(k["status"]),
            label=t(f"progress.task.{k['status']}"),
        )
        for k in found["tasks"]
    ]
    return steps, tasks
