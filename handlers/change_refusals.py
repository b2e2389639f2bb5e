"""Why a change step is refused, and the checks every step makes before it is taken.

A step the change's stage does not allow, a window that ends before it starts, or a freeze
the change may not enter raises `ChangeError` with a sentence naming what is allowed; `kind`
tells the API which status answers it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from handlers.context import HandlerContext
from handlers.errors import HandlerError, Said
from handlers.rules import change_stages, freeze
from handlers.rules.change_stages import StageError, Step
from handlers.rules.freeze import Window, WindowError
from store.changes import ChangePlan, ChangeStage
from store.enums import Role, TicketKind
from store.models import Ticket


class Refused(StrEnum):
    """Why a step was refused: the API answers 400, 403 or 409 for these."""

    BAD_INPUT = "bad_input"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"


class ChangeError(HandlerError):
    """A change step that cannot be taken; the message says why and what is allowed."""

    def __init__(self, kind: Refused, message: Said | str) -> None:
        super().__init__(message)
        self.kind = kind


def may_work(ctx: HandlerContext, ticket: Ticket) -> None:
    """Refuse unless the ticket is a change its requester, an agent or an approver works on."""
    if ticket.kind is not TicketKind.CHANGE:
        raise ChangeError(Refused.CONFLICT, Said("change.refused.not_change", ref=ticket.ref))
    if ticket.requester_id != ctx.person.id and not ctx.person.has_role(Role.AGENT, Role.APPROVER):
        raise ChangeError(Refused.FORBIDDEN, Said("change.refused.not_yours", ref=ticket.ref))


def stage_after(ticket: Ticket, plan: ChangePlan, step: Step) -> ChangeStage:
    """The stage the step leads the change to; refused when its stage does not allow it."""
    try:
        return change_stages.after(ticket.ref, ticket.status, plan.stage, step)
    except StageError as e:
        raise ChangeError(Refused.CONFLICT, e.said or str(e)) from e


def span_of(start: datetime | None, end: datetime | None) -> Window:
    """A change's window from its start and end; refused when one is missing or they make none."""
    if start is None or end is None:
        raise ChangeError(Refused.BAD_INPUT, Said("change.refused.no_window"))
    try:
        return freeze.window(start, end)
    except WindowError as e:
        raise ChangeError(Refused.BAD_INPUT, e.said or str(e)) from e
