"""Who may decide a change, and when the decisions add up to an outcome."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

from handlers.rules import lifecycle
from store.enums import ChangeType, Decision, Role, Status, TicketKind


class Refusal(StrEnum):
    """Why a decision was refused; each has a sentence a person can act on."""

    NOT_APPROVER = "not_approver"
    OWN_CHANGE = "own_change"
    NOT_AWAITING = "not_awaiting"
    ALREADY_DECIDED = "already_decided"
    STALE_CARD = "stale_card"
    NOT_ON_BOARD = "not_on_board"

    def explain(self, ref: str) -> str:
        """What the person is told, about the change `ref`."""
        return {
            Refusal.NOT_APPROVER: f"Only approvers can decide {ref}.",
            Refusal.OWN_CHANGE: f"You requested {ref}, so someone else has to approve it.",
            Refusal.NOT_AWAITING: f"{ref} is not waiting for approval.",
            Refusal.ALREADY_DECIDED: f"You have already decided {ref}.",
            Refusal.STALE_CARD: f"{ref} changed since that card was shown; check it again.",
            Refusal.NOT_ON_BOARD: f"{ref} is decided by its change advisory board, "
            "and you are not on it.",
        }[self]


QUORUM = {ChangeType.NORMAL: 1, ChangeType.EMERGENCY: 1, ChangeType.STANDARD: 0}


@dataclass(frozen=True, slots=True)
class Ballot:
    """One approver's recorded decision on the change."""

    approver_id: int
    decision: Decision


def may_decide(
    *,
    approver_id: int,
    approver_roles: Collection[Role],
    requester_id: int,
    status: Status,
    earlier: Sequence[Ballot],
    shown_version: int | None = None,
    current_version: int | None = None,
) -> Refusal | None:
    """None when this person may decide the change now, else the reason they may not.

    Decided from server-side state at the moment of the click: anyone who can see a
    button can press it.
    """
    if Role.APPROVER not in approver_roles and Role.ADMIN not in approver_roles:
        return Refusal.NOT_APPROVER
    if approver_id == requester_id:
        return Refusal.OWN_CHANGE
    if status is not Status.AWAITING_APPROVAL:
        return Refusal.NOT_AWAITING
    if any(b.approver_id == approver_id for b in earlier):
        return Refusal.ALREADY_DECIDED
    stale = shown_version is not None and current_version is not None
    if stale and shown_version != current_version:
        return Refusal.STALE_CARD
    return None


def outcome(change_type: ChangeType, ballots: Sequence[Ballot]) -> Status | None:
    """The state the ballots lead to: one rejection rejects, a quorum of approvals approves."""
    if any(b.decision is Decision.REJECTED for b in ballots):
        return Status.REJECTED
    approvals = sum(1 for b in ballots if b.decision is Decision.APPROVED)
    if approvals >= max(QUORUM.get(change_type, 1), 1):
        return Status.APPROVED
    return None


def needs_approval(change_type: ChangeType) -> bool:
    """Standard changes are pre-approved; every other kind goes to the approvers."""
    return QUORUM.get(change_type, 1) > 0


DECISIONS = frozenset({Status.APPROVED, Status.REJECTED})


def direct_moves(kind: TicketKind, current: Status) -> frozenset[Status]:
    """The status moves a person may make directly, without going through a decision.

    A change reaches approved or rejected only through `may_decide` and `outcome`; every
    other move follows the lifecycle, so work cannot start on a change nobody approved.
    """
    moves = lifecycle.allowed(kind, current)
    if kind is TicketKind.CHANGE:
        return moves - DECISIONS
    return moves
