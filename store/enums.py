"""Enumerations stored in columns; handlers and the API use the same values."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a person may do: requesters raise, agents work tickets, approvers decide changes."""

    REQUESTER = "requester"
    AGENT = "agent"
    APPROVER = "approver"
    ADMIN = "admin"


class PersonKind(StrEnum):
    """Directory people are imported; contacts appear when an unknown sender writes in."""

    EMPLOYEE = "employee"
    CONTACT = "contact"


class TicketKind(StrEnum):
    """The four ITIL record types, each with its own reference prefix."""

    INCIDENT = "incident"
    REQUEST = "request"
    PROBLEM = "problem"
    CHANGE = "change"

    @property
    def prefix(self) -> str:
        """The letters that start the kind's references, as `INC` in `INC-42`."""
        return _PREFIX[self]

    @classmethod
    def from_prefix(cls, prefix: str) -> TicketKind:
        """The kind a reference prefix stands for, in any case.

        Raises:
            ValueError: the prefix belongs to no kind.
        """
        for kind, p in _PREFIX.items():
            if p == prefix.upper():
                return kind
        raise ValueError(f"unknown ticket prefix {prefix!r}")


_PREFIX = {
    TicketKind.INCIDENT: "INC",
    TicketKind.REQUEST: "REQ",
    TicketKind.PROBLEM: "PRB",
    TicketKind.CHANGE: "CHG",
}


class Status(StrEnum):
    """Ticket states; `handlers.rules.lifecycle` says which moves are allowed per kind."""

    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The status as people read it (`in progress`, not `in_progress`)."""
        return self.value.replace("_", " ")


class Priority(StrEnum):
    """P1 (critical) to P5 (planning)."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"


class Level(StrEnum):
    """Impact and urgency on the ITIL three-point scale."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Criticality(StrEnum):
    """How much the business depends on a service."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class ChangeType(StrEnum):
    """Standard changes are pre-approved, normal ones go to the board, emergency ones to one."""

    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class Decision(StrEnum):
    """An approver's answer to a ticket awaiting approval."""

    APPROVED = "approved"
    REJECTED = "rejected"


class InboxStatus(StrEnum):
    """Where a received event stands: waiting for a worker, handled, or given up on."""

    PENDING = "pending"
    DONE = "done"
    DEAD = "dead"


class OutboxStatus(StrEnum):
    """Where a reply stands; `store.outbox.OutboxRepository` describes the life of a row."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"
    UNKNOWN = "unknown"
