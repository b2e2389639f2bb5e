"""The report priority rules: reach, urgency and the impact table, one test per row."""

from __future__ import annotations

import pytest

from handlers.rules import priority as prio
from handlers.rules.priority import Reach
from store.enums import Criticality, Level, Priority

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW
C = Criticality


@pytest.mark.parametrize(
    ("text", "said", "expected"),
    [
        ("payroll is down for the whole company", None, Reach.EVERYONE),
        ("none of our customers can pay: all customers see it", None, Reach.EVERYONE),
        ("nobody in Berlin can log in", None, Reach.EVERYONE),
        ("全公司都上不了网", None, Reach.EVERYONE),
        ("the whole team can't open the CRM", None, Reach.TEAM),
        ("my team lost the shared drive", None, Reach.TEAM),
        ("部门的打印机坏了", None, Reach.TEAM),
        ("Outlook is a bit slow for me", None, Reach.ONE),
        ("my vpn keeps dropping", None, Reach.ONE),
        ("只有我登录不了", None, Reach.ONE),
        ("the intranet is slow", None, Reach.UNSTATED),
        ("the VPN is down", None, Reach.OUTAGE),
        ("my VPN is down", None, Reach.ONE),
        ("邮件系统宕机了", None, Reach.OUTAGE),
        ("the intranet is slow", H, Reach.EVERYONE),
        ("the intranet is slow", M, Reach.TEAM),
        ("the intranet is slow", L, Reach.ONE),
    ],
)
def test_reach_from_the_words(text: str, said: Level | None, expected: Reach) -> None:
    assert prio.reach_of(text, said) is expected


@pytest.mark.parametrize(
    ("reach", "criticality", "expected"),
    [
        (Reach.EVERYONE, C.CRITICAL, H),
        (Reach.EVERYONE, C.HIGH, H),
        (Reach.EVERYONE, C.MEDIUM, H),
        (Reach.EVERYONE, C.LOW, M),
        (Reach.EVERYONE, None, H),
        (Reach.TEAM, C.CRITICAL, H),
        (Reach.TEAM, C.HIGH, M),
        (Reach.TEAM, C.MEDIUM, M),
        (Reach.TEAM, C.LOW, L),
        (Reach.TEAM, None, M),
        (Reach.ONE, C.CRITICAL, L),
        (Reach.ONE, C.HIGH, L),
        (Reach.ONE, C.MEDIUM, L),
        (Reach.ONE, C.LOW, L),
        (Reach.ONE, None, L),
        (Reach.OUTAGE, C.CRITICAL, H),
        (Reach.OUTAGE, C.HIGH, M),
        (Reach.OUTAGE, C.MEDIUM, M),
        (Reach.OUTAGE, C.LOW, L),
        (Reach.OUTAGE, None, M),
        (Reach.UNSTATED, C.CRITICAL, L),
        (Reach.UNSTATED, None, L),
    ],
)
def test_impact_table(reach: Reach, criticality: Criticality | None, expected: Level) -> None:
    assert prio.IMPACT_TABLE[reach][criticality] is expected


@pytest.mark.parametrize(
    ("text", "said", "expected"),
    [
        ("salaries must go out today", None, H),
        ("I need it before the board meeting", None, H),
        ("VPN keeps disconnecting, urgent", H, H),
        ("今天必须发工资", None, H),
        ("no rush, the wiki is a bit slow", L, L),
        ("Outlook is a bit slow for me", None, M),
    ],
)
def test_urgency_from_deadlines_and_tone(text: str, said: Level | None, expected: Level) -> None:
    assert prio.urgency_of(text, said) is expected


@pytest.mark.parametrize(
    ("text", "criticality", "said_impact", "said_urgency", "expected"),
    [
        ("VPN keeps disconnecting, urgent", C.CRITICAL, None, H, Priority.P3),
        (
            "payroll is down for the whole company and salaries must go out today",
            C.CRITICAL,
            H,
            None,
            Priority.P1,
        ),
        ("Outlook is a bit slow for me", C.CRITICAL, None, None, Priority.P4),
        ("the whole team can't reach the CRM", C.HIGH, H, None, Priority.P3),
        ("VPN is down", C.HIGH, None, None, Priority.P3),
        ("the VPN is down for the whole office, nobody can work!!", C.CRITICAL, H, H, Priority.P1),
    ],
)
def test_the_reported_examples(
    text: str,
    criticality: Criticality,
    said_impact: Level | None,
    said_urgency: Level | None,
    expected: Priority,
) -> None:
    impact, urgency = prio.assess(
        text, criticality, said_impact=said_impact, said_urgency=said_urgency
    )
    assert prio.priority(impact, urgency) is expected
