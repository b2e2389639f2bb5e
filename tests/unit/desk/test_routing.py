"""Routing rules: owner group else the service desk; skill match, then load, within a group."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.routing import (
    Candidate,
    Placement,
    choose_assignee,
    choose_group,
    on_call,
    route,
    wanted_skills,
)

ERIN = Candidate(person_id=2, skills=frozenset({"vpn", "wan", "cisco"}), open_tickets=5)
WEI = Candidate(person_id=3, skills=frozenset({"vpn"}), open_tickets=1)
ZOE = Candidate(person_id=4, skills=frozenset(), open_tickets=0)


def test_the_owner_group_else_the_service_desk() -> None:
    assert choose_group(7, 1) == 7
    assert choose_group(None, 1) == 1
    assert choose_group(None, None) is None


def test_wanted_skills_from_the_service() -> None:
    assert wanted_skills("VPN", ["Remote Access"]) == {"vpn", "remote access"}
    assert wanted_skills("VPN", ["remote access"], ["Cisco"]) == {"cisco"}
    assert wanted_skills(None) == frozenset()


def test_more_matching_skills_beat_a_lighter_load() -> None:
    wanted = frozenset({"vpn", "wan"})
    assert choose_assignee([WEI, ERIN, ZOE], wanted) is ERIN


def test_equal_skills_go_to_the_lighter_load_then_the_earlier_person() -> None:
    wanted = frozenset({"vpn"})
    assert choose_assignee([ERIN, WEI], wanted) is WEI
    twin = Candidate(person_id=9, skills=WEI.skills, open_tickets=WEI.open_tickets)
    assert choose_assignee([twin, WEI], wanted) is WEI
    # Nobody has the skill: the least loaded takes it.
    assert choose_assignee([ERIN, WEI, ZOE], frozenset({"sap"})) is ZOE
    assert choose_assignee([], wanted) is None


def test_route_assigns_only_in_groups_that_auto_assign() -> None:
    common = {"owner_group_id": 7, "default_group_id": 1, "candidates": [ERIN, WEI]}
    wanted = frozenset({"wan"})
    assert route(auto_assign=False, wanted=wanted, **common) == Placement(group_id=7)  # type: ignore[arg-type]
    assert route(auto_assign=True, wanted=wanted, **common) == Placement(  # type: ignore[arg-type]
        group_id=7, assignee_id=2, matched=("wan",)
    )
    assert route(
        owner_group_id=None,
        default_group_id=None,
        auto_assign=True,
        candidates=[ERIN],
        wanted=wanted,
    ) == Placement(group_id=None)
    assert route(
        owner_group_id=7, default_group_id=1, auto_assign=True, candidates=[], wanted=wanted
    ) == Placement(group_id=7)


ROTA = {
    "weekly": ["erin@example.com", "wei@example.com", "zoe@example.com"],
    "starts": "2026-01-05",
    "handover": "Mon 09:00",
    "timezone": "Europe/Berlin",
    "dates": [{"from": "2026-12-24", "to": "2026-12-27", "person": "wei@example.com"}],
}


def test_on_call_turns_over_weekly_at_the_handover() -> None:
    # Monday 5 January 2026 09:00 Berlin = 08:00 UTC: Erin's first week begins.
    assert on_call(ROTA, datetime(2026, 1, 5, 8, tzinfo=UTC)) == "erin@example.com"
    assert on_call(ROTA, datetime(2026, 1, 12, 7, 59, tzinfo=UTC)) == "erin@example.com"
    assert on_call(ROTA, datetime(2026, 1, 12, 8, tzinfo=UTC)) == "wei@example.com"
    assert on_call(ROTA, datetime(2026, 1, 19, 8, tzinfo=UTC)) == "zoe@example.com"
    assert on_call(ROTA, datetime(2026, 1, 26, 8, tzinfo=UTC)) == "erin@example.com"
    # In summer time the handover is still 09:00 on the wall: 07:00 UTC (25 weeks in).
    assert on_call(ROTA, datetime(2026, 6, 29, 6, 59, tzinfo=UTC)) == "erin@example.com"
    assert on_call(ROTA, datetime(2026, 6, 29, 7, tzinfo=UTC)) == "wei@example.com"


def test_dated_cover_comes_first() -> None:
    # 28 December 2026 is Erin's week by the turn (51 weeks after the start).
    assert on_call(ROTA, datetime(2026, 12, 25, 12, tzinfo=UTC)) == "wei@example.com"
    assert on_call(ROTA, datetime(2026, 12, 28, 12, tzinfo=UTC)) == "erin@example.com"
    assert on_call({"dates": []}, datetime(2026, 12, 28, tzinfo=UTC)) is None
