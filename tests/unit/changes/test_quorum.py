"""Change advisory boards: quorum per service, the requester never counting."""

from __future__ import annotations

from handlers.rules.quorum import Board, Vote, applies, may_vote, outcome, unreachable, waiting_on
from store.enums import ChangeType, Decision, Status

A = Decision.APPROVED
R = Decision.REJECTED
PAYROLL = Board("payroll-cab", frozenset({1, 2, 3}), quorum=2)
CRM = Board("crm-cab", frozenset({3, 4}), quorum=1)


def test_boards_decide_normal_changes_only() -> None:
    assert applies(ChangeType.NORMAL, [PAYROLL])
    assert not applies(ChangeType.EMERGENCY, [PAYROLL])
    assert not applies(ChangeType.STANDARD, [PAYROLL])
    assert not applies(ChangeType.NORMAL, [])


def test_a_quorum_of_two_needs_two_members() -> None:
    assert outcome([PAYROLL], [Vote(2, A)], requester_id=9) is None
    assert outcome([PAYROLL], [Vote(2, A), Vote(3, A)], requester_id=9) is Status.APPROVED


def test_the_requester_never_counts_even_on_the_board() -> None:
    assert not may_vote(1, 1, [PAYROLL])
    assert outcome([PAYROLL], [Vote(1, A), Vote(2, A)], requester_id=1) is None
    assert [t.sentence() for t in waiting_on([PAYROLL], [Vote(2, A)], 1)] == ["payroll-cab 1 of 2"]


def test_outsiders_neither_vote_nor_count() -> None:
    assert not may_vote(7, 1, [PAYROLL])
    assert outcome([PAYROLL], [Vote(7, A), Vote(8, A)], requester_id=1) is None
    assert outcome([PAYROLL], [Vote(7, R)], requester_id=1) is None


def test_every_affected_board_needs_its_quorum() -> None:
    both = [PAYROLL, CRM]
    assert outcome(both, [Vote(1, A), Vote(2, A)], requester_id=9) is None
    # One person on two boards counts for each.
    assert outcome(both, [Vote(2, A), Vote(3, A)], requester_id=9) is Status.APPROVED
    assert [t.board.name for t in waiting_on(both, [Vote(1, A), Vote(2, A)], 9)] == ["crm-cab"]


def test_one_member_rejecting_rejects() -> None:
    assert outcome([PAYROLL], [Vote(2, A), Vote(3, R)], requester_id=9) is Status.REJECTED


def test_a_board_too_small_without_the_requester_is_reported() -> None:
    small = Board("tiny", frozenset({1, 2}), quorum=2)
    assert [t.board.name for t in unreachable([small, CRM], requester_id=1)] == ["tiny"]
    assert unreachable([small], requester_id=5) == []
