"""Priority from impact and urgency: the ITIL 3 x 3 matrix, P1 (critical) to P5 (planning).

A report's impact comes from the reach it states ("for me", "the whole team", "the whole
company") and the affected service's criticality (`IMPACT_TABLE`); its urgency from
deadlines ("today", "salaries must go out") and tone (`urgency_of`).
"""

from __future__ import annotations

from enum import StrEnum

from store.enums import Criticality, Level, Priority

_MATRIX: dict[tuple[Level, Level], Priority] = {
    (Level.HIGH, Level.HIGH): Priority.P1,
    (Level.HIGH, Level.MEDIUM): Priority.P2,
    (Level.HIGH, Level.LOW): Priority.P3,
    (Level.MEDIUM, Level.HIGH): Priority.P2,
    (Level.MEDIUM, Level.MEDIUM): Priority.P3,
    (Level.MEDIUM, Level.LOW): Priority.P4,
    (Level.LOW, Level.HIGH): Priority.P3,
    (Level.LOW, Level.MEDIUM): Priority.P4,
    (Level.LOW, Level.LOW): Priority.P5,
}

_ORDER = [Level.LOW, Level.MEDIUM, Level.HIGH]

_BY_CRITICALITY = {
    Criticality.CRITICAL: Level.HIGH,
    Criticality.HIGH: Level.MEDIUM,
    Criticality.MEDIUM: Level.MEDIUM,
    Criticality.LOW: Level.LOW,
}


def priority(impact: Level, urgency: Level) -> Priority:
    """The priority for an impact and an urgency."""
    return _MATRIX[(impact, urgency)]


def impact(criticality: Criticality | None, reach: Level | None = None) -> Level:
    """Impact from the affected service's criticality and how many people it touches.

    `reach` is what the report says about scope: HIGH for "the whole office", LOW for
    "just me". It moves the service's baseline one step, never more; with a critical service
    a wide outage is already at the top. An unknown service counts as medium.
    """
    base = _BY_CRITICALITY[criticality] if criticality else Level.MEDIUM
    if reach is None or reach is Level.MEDIUM:
        return base
    step = 1 if reach is Level.HIGH else -1
    i = min(max(_ORDER.index(base) + step, 0), len(_ORDER) - 1)
    return _ORDER[i]


def raise_level(level: Level) -> Level:
    """One step more urgent (escalation), capped at high."""
    return _ORDER[min(_ORDER.index(level) + 1, len(_ORDER) - 1)]


def is_major(p: Priority) -> bool:
    """P1 and P2 incidents are announced and get the major-incident treatment."""
    return p in (Priority.P1, Priority.P2)


class Reach(StrEnum):
    """How many people a report says are affected."""

    ONE = "one"
    TEAM = "team"
    EVERYONE = "everyone"
    OUTAGE = "outage"
    UNSTATED = "unstated"


# Checked in this order, first match wins: "my whole team" is a team, not one person.
REACH_CUES: tuple[tuple[Reach, tuple[str, ...]], ...] = (
    (
        Reach.EVERYONE,
        (
            "whole company", "entire company", "company-wide", "company wide", "whole office",
            "entire office", "whole building", "everyone", "everybody", "all users", "all staff",
            "all employees", "all customers", "every customer", "nobody", "no one",
            "all offices", "all sites", "whole organisation", "whole organization",
            "全公司", "整个公司", "所有人", "大家", "所有客户", "全体员工", "整个办公室", "没有人",
        ),
    ),
    (
        Reach.TEAM,
        (
            "whole team", "entire team", "my team", "our team", "the team", "whole department",
            "my department", "our department", "whole floor", "several of us", "a few of us",
            "some of us", "several people", "a few people", "some users", "colleagues",
            "团队", "部门", "我们组", "几个人", "一些同事",
        ),
    ),
    (
        Reach.ONE,
        (
            "for me", "just me", "only me", "only for me", "just for me", "only i ", "my ",
            "i can't", "i cannot", "i can not", "i'm unable", "只有我", "就我", "我的",
        ),
    ),
    # "The VPN is down" says nothing of reach but describes the service, not one person.
    (
        Reach.OUTAGE,
        (
            " is down", " are down", "went down", "outage", " is offline", "crashed for",
            "挂了", "宕机", "瘫痪",
        ),
    ),
)  # fmt: skip

# A deadline makes a report urgent whatever its tone.
DEADLINE_CUES: tuple[str, ...] = (
    "today", "tonight", "this morning", "this afternoon", "by noon", "within the hour",
    "in an hour", "before the", "must go out", "has to go out", "deadline", "due now",
    "pay day", "payday", "month end close", "go-live",
    "今天", "今晚", "马上要", "截止", "之前必须", "发工资",
)  # fmt: skip

IMPACT_TABLE: dict[Reach, dict[Criticality | None, Level]] = {
    Reach.EVERYONE: {
        Criticality.CRITICAL: Level.HIGH,
        Criticality.HIGH: Level.HIGH,
        Criticality.MEDIUM: Level.HIGH,
        Criticality.LOW: Level.MEDIUM,
        None: Level.HIGH,
    },
    Reach.TEAM: {
        Criticality.CRITICAL: Level.HIGH,
        Criticality.HIGH: Level.MEDIUM,
        Criticality.MEDIUM: Level.MEDIUM,
        Criticality.LOW: Level.LOW,
        None: Level.MEDIUM,
    },
    Reach.OUTAGE: {
        Criticality.CRITICAL: Level.HIGH,
        Criticality.HIGH: Level.MEDIUM,
        Criticality.MEDIUM: Level.MEDIUM,
        Criticality.LOW: Level.LOW,
        None: Level.MEDIUM,
    },
    # One person's trouble, or a report that does not say more, touches one person.
    Reach.ONE: dict.fromkeys([*Criticality, None], Level.LOW),
    Reach.UNSTATED: dict.fromkeys([*Criticality, None], Level.LOW),
}
"""Impact by the reach a report states (rows) and the affected service's criticality."""

_REACH_BY_LEVEL = {Level.HIGH: Reach.EVERYONE, Level.MEDIUM: Reach.TEAM, Level.LOW: Reach.ONE}


def reach_of(text: str, said: Level | None = None) -> Reach:
    """The reach a report states, from its words; else from the NLU's impact cue."""
    lowered = f" {text.casefold()} "
    for reach, cues in REACH_CUES:
        if any(cue in lowered for cue in cues):
            return reach
    return _REACH_BY_LEVEL.get(said, Reach.UNSTATED) if said else Reach.UNSTATED


def urgency_of(text: str, said: Level | None = None) -> Level:
    """Urgency from deadlines in the words, and from the NLU's urgency cue (tone).

    An explicit "no rush" wins; a deadline or an alarmed tone is high; otherwise medium.
    """
    if said is Level.LOW:
        return Level.LOW
    lowered = text.casefold()
    if said is Level.HIGH or any(cue in lowered for cue in DEADLINE_CUES):
        return Level.HIGH
    return Level.MEDIUM


def assess(
    text: str,
    criticality: Criticality | None,
    *,
    said_impact: Level | None = None,
    said_urgency: Level | None = None,
) -> tuple[Level, Level]:
    """Impact and urgency of a report: reach × criticality, and deadlines and tone."""
    reach = reach_of(text, said_impact)
    return IMPACT_TABLE[reach][criticality], urgency_of(text, said_urgency)
