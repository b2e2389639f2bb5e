"""The pure ITSM rules: priority matrix, lifecycle, approval policy."""

from __future__ import annotations

import pytest

from handlers.rules import approval, lifecycle
from handlers.rules import priority as prio
from store.enums import ChangeType, Criticality, Decision, Level, Priority, Role, Status, TicketKind

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        (H, H, Priority.P1),
        (H, M, Priority.P2),
        (H, L, Priority.P3),
        (M, H, Priority.P2),
        (M, M, Priority.P3),
        (M, L, Priority.P4),
        (L, H, Priority.P3),
        (L, M, Priority.P4),
        (L, L, Priority.P5),
    ],
)
def test_priority_matrix(impact: Level, urgency: Level, expected: Priority) -> None:
    assert prio.priority(impact, urgency) is expected


def test_matrix_is_symmetric_and_monotonic() -> None:
    order = [L, M, H]
    rank = {p: i for i, p in enumerate(Priority)}  # P1 first = most urgent
    for a in order:
        for b in order:
            assert prio.priority(a, b) is prio.priority(b, a)
    for i in range(2):
        for other in order:
            assert rank[prio.priority(order[i + 1], other)] < rank[prio.priority(order[i], other)]


@pytest.mark.parametrize(
    ("criticality", "reach", "expected"),
    [
        (Criticality.CRITICAL, None, H),
        (Criticality.HIGH, None, M),
        (Criticality.MEDIUM, None, M),
        (Criticality.LOW, None, L),
        (None, None, M),
        (Criticality.HIGH, H, H),
        (Criticality.CRITICAL, H, H),
        (Criticality.LOW, H, M),
        (Criticality.MEDIUM, L, L),
        (Criticality.LOW, L, L),
        (Criticality.CRITICAL, L, M),
    ],
)
def test_impact_from_criticality_and_reach(
    criticality: Criticality | None, reach: Level | None, expected: Level
) -> None:
    assert prio.impact(criticality, reach) is expected


def test_raise_level_caps_at_high() -> None:
    assert prio.raise_level(L) is M
    assert prio.raise_level(M) is H
    assert prio.raise_level(H) is H


def test_major_is_p1_and_p2() -> None:
    assert [p for p in Priority if prio.is_major(p)] == [Priority.P1, Priority.P2]


@pytest.mark.parametrize(
    ("kind", "current", "target", "ok"),
    [
        (TicketKind.INCIDENT, Status.NEW, Status.IN_PROGRESS, True),
        (TicketKind.INCIDENT, Status.IN_PROGRESS, Status.ON_HOLD, True),
        (TicketKind.INCIDENT, Status.ON_HOLD, Status.IN_PROGRESS, True),
        (TicketKind.INCIDENT, Status.IN_PROGRESS, Status.RESOLVED, True),
        (TicketKind.INCIDENT, Status.RESOLVED, Status.IN_PROGRESS, True),
        (TicketKind.INCIDENT, Status.RESOLVED, Status.CLOSED, True),
        (TicketKind.INCIDENT, Status.CLOSED, Status.IN_PROGRESS, False),
        (TicketKind.INCIDENT, Status.NEW, Status.CLOSED, False),
        (TicketKind.INCIDENT, Status.NEW, Status.APPROVED, False),
        (TicketKind.CHANGE, Status.NEW, Status.AWAITING_APPROVAL, True),
        (TicketKind.CHANGE, Status.AWAITING_APPROVAL, Status.APPROVED, True),
        (TicketKind.CHANGE, Status.AWAITING_APPROVAL, Status.REJECTED, True),
        (TicketKind.CHANGE, Status.AWAITING_APPROVAL, Status.IN_PROGRESS, False),
        (TicketKind.CHANGE, Status.REJECTED, Status.APPROVED, False),
        (TicketKind.CHANGE, Status.APPROVED, Status.IN_PROGRESS, True),
        (TicketKind.REQUEST, Status.NEW, Status.RESOLVED, True),
    ],
)
def test_lifecycle(kind: TicketKind, current: Status, target: Status, ok: bool) -> None:
    assert lifecycle.can_move(kind, current, target) is ok


def test_terminal_states_allow_nothing() -> None:
    for kind in TicketKind:
        for status in lifecycle.TERMINAL:
            assert lifecycle.allowed(kind, status) == frozenset()


def decide(**overrides: object) -> approval.Refusal | None:
    values: dict[str, object] = {
        "approver_id": 2,
        "approver_roles": {Role.APPROVER},
        "requester_id": 1,
        "status": Status.AWAITING_APPROVAL,
        "earlier": [],
    }
    values.update(overrides)
    return approval.may_decide(**values)  # type: ignore[arg-type]


def test_an_approver_may_decide_someone_elses_change() -> None:
    assert decide() is None
    assert decide(approver_roles={Role.ADMIN}) is None


def test_the_requester_never_approves_their_own_change() -> None:
    assert decide(approver_id=1, requester_id=1) is approval.Refusal.OWN_CHANGE
    assert decide(approver_id=1, requester_id=1, approver_roles={Role.ADMIN}) is (
        approval.Refusal.OWN_CHANGE
    )


@pytest.mark.parametrize("roles", [set(), {Role.REQUESTER}, {Role.AGENT}])
def test_only_approvers_decide(roles: set[Role]) -> None:
    assert decide(approver_roles=roles) is approval.Refusal.NOT_APPROVER


@pytest.mark.parametrize(
    "status", [Status.NEW, Status.APPROVED, Status.REJECTED, Status.CANCELLED, Status.CLOSED]
)
def test_only_changes_awaiting_approval(status: Status) -> None:
    assert decide(status=status) is approval.Refusal.NOT_AWAITING


def test_one_decision_per_approver_and_stale_cards() -> None:
    earlier = [approval.Ballot(2, Decision.APPROVED)]
    assert decide(earlier=earlier) is approval.Refusal.ALREADY_DECIDED
    assert decide(shown_version=3, current_version=4) is approval.Refusal.STALE_CARD
    assert decide(shown_version=4, current_version=4) is None


def test_outcome_quorum_and_rejection() -> None:
    yes = approval.Ballot(2, Decision.APPROVED)
    no = approval.Ballot(3, Decision.REJECTED)
    assert approval.outcome(ChangeType.NORMAL, []) is None
    assert approval.outcome(ChangeType.NORMAL, [yes]) is Status.APPROVED
    assert approval.outcome(ChangeType.EMERGENCY, [yes]) is Status.APPROVED
    assert approval.outcome(ChangeType.NORMAL, [yes, no]) is Status.REJECTED
    assert approval.outcome(ChangeType.NORMAL, [no]) is Status.REJECTED


def test_standard_changes_are_preapproved() -> None:
    assert not approval.needs_approval(ChangeType.STANDARD)
    assert approval.needs_approval(ChangeType.NORMAL)
    assert approval.needs_approval(ChangeType.EMERGENCY)


def test_every_refusal_explains_itself() -> None:
    for refusal in approval.Refusal:
        text = refusal.explain("CHG-7")
        assert "CHG-7" in text
