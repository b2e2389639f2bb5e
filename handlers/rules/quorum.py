"""Change advisory boards: who may decide a normal change, and when the boards have agreed.

A board is a group of approvers for some services, with a quorum (default 1). A normal change
needs the quorum of every board of every service it affects; one person's approval counts for
each board they sit on. The requester never counts, even when they sit on the board. One
rejection by a board member rejects the change. A change that affects no board's service
falls back to the desk-wide policy: any one approver. Emergency changes keep their own rule
(one emergency approver, reviewed afterwards), and standard changes need nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from store.enums import ChangeType, Decision, Status


@dataclass(frozen=True, slots=True)
class Board:
    """A change advisory board: its name, the ids of its members, and its quorum."""

    name: str
    members: frozenset[int]
    quorum: int = 1


@dataclass(frozen=True, slots=True)
class Vote:
    """One recorded decision: who, and what."""

    person_id: int
    decision: Decision


@dataclass(frozen=True, slots=True)
class Tally:
    """How far one board is: approvals that count, what it needs, who else could still vote."""

    board: Board
    approvals: int
    eligible: int

    @property
    def met(self) -> bool:
        """Whether the approvals reach what the board needs."""
        return self.approvals >= self.needed

    @property
    def needed(self) -> int:
        """Approvals the board needs: its quorum, never fewer than one."""
        return max(self.board.quorum, 1)

    @property
    def reachable(self) -> bool:
        """Whether enough members other than the requester exist to reach the quorum."""
        return self.eligible >= self.needed

    def sentence(self) -> str:
        """The board's progress as people read it, like `CAB 1 of 2`."""
        return f"{self.board.name} {self.approvals} of {self.needed}"


def applies(change_type: ChangeType, boards: Sequence[Board]) -> bool:
    """Boards decide normal changes only; without a board the desk-wide policy holds."""
    return change_type is ChangeType.NORMAL and bool(boards)


def may_vote(person_id: int, requester_id: int, boards: Iterable[Board]) -> bool:
    """Whether a person may decide a board-governed change.

    They may when they sit on one of its boards and did not request it.
    """
    return person_id != requester_id and any(person_id in b.members for b in boards)


def tallies(boards: Sequence[Board], votes: Sequence[Vote], requester_id: int) -> list[Tally]:
    """Each board's count: approvals by its members, never the requester's."""
    approving = {
        v.person_id
        for v in votes
        if v.decision is Decision.APPROVED and v.person_id != requester_id
    }
    return [
        Tally(
            board=b,
            approvals=len(approving & b.members),
            eligible=len(b.members - {requester_id}),
        )
        for b in boards
    ]


def outcome(boards: Sequence[Board], votes: Sequence[Vote], requester_id: int) -> Status | None:
    """Rejected on one member's rejection; approved when every board has its quorum."""
    members = frozenset().union(*(b.members for b in boards)) - {requester_id}
    if any(v.decision is Decision.REJECTED and v.person_id in members for v in votes):
        return Status.REJECTED
    if all(t.met for t in tallies(boards, votes, requester_id)):
        return Status.APPROVED
    return None


def waiting_on(boards: Sequence[Board], votes: Sequence[Vote], requester_id: int) -> list[Tally]:
    """The boards that still lack their quorum."""
    return [t for t in tallies(boards, votes, requester_id) if not t.met]


def unreachable(boards: Sequence[Board], requester_id: int) -> list[Tally]:
    """Boards that can never reach their quorum: too few members besides the requester."""
    return [t for t in tallies(boards, [], requester_id) if not t.reachable]
