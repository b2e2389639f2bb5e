"""Which status moves each kind of ticket allows."""

from __future__ import annotations

from store.enums import Status, TicketKind

_WORK = {
    Status.NEW: {Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED},
    Status.IN_PROGRESS: {Status.ON_HOLD, Status.RESOLVED, Status.CANCELLED},
    Status.ON_HOLD: {Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED},
    Status.RESOLVED: {Status.IN_PROGRESS, Status.CLOSED},
    Status.CLOSED: set(),
    Status.CANCELLED: set(),
}

_CHANGE = {
    Status.NEW: {Status.AWAITING_APPROVAL, Status.APPROVED, Status.CANCELLED},
    Status.AWAITING_APPROVAL: {Status.APPROVED, Status.REJECTED, Status.CANCELLED},
    Status.APPROVED: {Status.IN_PROGRESS, Status.CANCELLED},
    Status.IN_PROGRESS: {Status.RESOLVED, Status.ON_HOLD},
    Status.ON_HOLD: {Status.IN_PROGRESS, Status.CANCELLED},
    Status.RESOLVED: {Status.CLOSED, Status.IN_PROGRESS},
    Status.REJECTED: set(),
    Status.CLOSED: set(),
    Status.CANCELLED: set(),
}

TERMINAL = frozenset({Status.CLOSED, Status.CANCELLED, Status.REJECTED})


def allowed(kind: TicketKind, current: Status) -> frozenset[Status]:
    """The states a ticket of this kind may move to from `current`."""
    table = _CHANGE if kind is TicketKind.CHANGE else _WORK
    return frozenset(table.get(current, set()))


def can_move(kind: TicketKind, current: Status, target: Status) -> bool:
    """Whether a ticket of this kind may move from `current` to `target`."""
    return target in allowed(kind, current)


def is_open(status: Status) -> bool:
    """Whether work on a ticket in `status` goes on: it is neither resolved nor final."""
    return status not in TERMINAL and status is not Status.RESOLVED
