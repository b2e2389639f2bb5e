"""Service-level rules with a controllable clock: matching, due times, pause, warning, breach."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from handlers.rules import sla
from handlers.rules.calendar import ALWAYS, Calendar, parse_duration
from store.enums import Priority, TicketKind

OFFICE = Calendar.build("office", "Europe/Berlin", "Mon-Fri 08:00-18:00", holidays=["2026-12-25"])


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def targets(**by_priority: tuple[str | None, str | None]) -> dict[Priority, sla.Targets]:
    return {
        Priority(p): sla.Targets(
            response=parse_duration(r) if r else None, resolve=parse_duration(s) if s else None
        )
        for p, (r, s) in by_priority.items()
    }


STANDARD = sla.Policy(
    name="standard",
    applies_to=sla.AppliesTo(kind=TicketKind.INCIDENT),
    calendar=OFFICE,
    targets=targets(P1=("15m", "4h"), P2=("1h", "8h"), P3=("4h", "3d")),
)
GOLD = sla.Policy(
    name="acme-gold",
    applies_to=sla.AppliesTo(organisation="Acme", kind=TicketKind.INCIDENT),
    calendar=ALWAYS,
    targets=targets(P1=("10m", "2h"), P2=("30m", "4h")),
)
NETCO = sla.Policy(
    name="NetCo",
    applies_to=sla.AppliesTo(service="WAN"),
    calendar=ALWAYS,
    targets=targets(P1=("30m", "6h")),
)


def test_the_most_specific_agreement_wins() -> None:
    both = [STANDARD, GOLD]
    assert sla.choose(both, organisation="Acme", kind=TicketKind.INCIDENT) is GOLD
    assert sla.choose(both, organisation="acme", kind=TicketKind.INCIDENT) is GOLD
    assert sla.choose(both, organisation="Other", kind=TicketKind.INCIDENT) is STANDARD
    assert sla.choose(both, organisation=None, kind=TicketKind.INCIDENT) is STANDARD
    assert sla.choose(both, organisation="Acme", kind=TicketKind.REQUEST) is None


def test_equal_specificity_that_overlaps_is_a_conflict() -> None:
    by_org = sla.Policy("org", sla.AppliesTo(organisation="Acme"), ALWAYS, {})
    by_kind = sla.Policy("kind", sla.AppliesTo(kind=TicketKind.INCIDENT), ALWAYS, {})
    by_other_kind = sla.Policy("req", sla.AppliesTo(kind=TicketKind.REQUEST), ALWAYS, {})
    assert sla.conflicts([by_org, by_kind]) == [(by_org, by_kind)]
    assert sla.conflicts([by_kind, by_other_kind]) == []
    assert sla.conflicts([STANDARD, GOLD]) == []
    assert sla.conflicts([STANDARD, by_kind]) == [(STANDARD, by_kind)]


def test_a_priority_without_a_target_has_no_clock() -> None:
    assert sla.start(GOLD, Priority.P3, utc(2026, 12, 1, 9)) is None
    assert sla.start(STANDARD, None, utc(2026, 12, 1, 9)) is None


def test_due_and_warning_times_on_business_hours() -> None:
    # Tuesday 1 December 2026 16:00 Berlin (15:00 UTC), P2: respond 1h, resolve 8h.
    clock = sla.start(STANDARD, Priority.P2, utc(2026, 12, 1, 15))
    assert clock is not None
    assert clock.response_due_at == utc(2026, 12, 1, 16)
    assert clock.response_warn_at == utc(2026, 12, 1, 15, 45)
    # 8h: 2h on Tuesday, 6h on Wednesday from 08:00 → 14:00 Berlin.
    assert clock.resolve_due_at == utc(2026, 12, 2, 13)
    # 75 % of 8h is 6h: 2h Tuesday, 4h Wednesday → 12:00 Berlin.
    assert clock.resolve_warn_at == utc(2026, 12, 2, 11)


def test_working_day_targets_across_a_weekend_and_a_holiday() -> None:
    # Wednesday 23 December 10:00 Berlin, P3 resolve in 3 working days:
    # 24th (Thursday) counts, 25th is a holiday, weekend → 28th, 29th → Tuesday 29th 10:00.
    clock = sla.start(STANDARD, Priority.P3, utc(2026, 12, 23, 9))
    assert clock is not None
    assert clock.resolve_due_at == utc(2026, 12, 29, 9)


def test_warning_and_breach_instants() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    before_warn = utc(2026, 12, 1, 9, 11)
    at_warn = clock.response_warn_at
    assert at_warn == utc(2026, 12, 1, 9, 11, 15)
    s = sla.standing(clock, OFFICE, sla.Target.RESPONSE, before_warn)
    assert s is not None
    assert s.stage is sla.Stage.OK
    s = sla.standing(clock, OFFICE, sla.Target.RESPONSE, at_warn)
    assert s is not None
    assert s.stage is sla.Stage.WARNING
    assert s.used == pytest.approx(0.75)
    s = sla.standing(clock, OFFICE, sla.Target.RESPONSE, utc(2026, 12, 1, 9, 15))
    assert s is not None
    assert s.stage is sla.Stage.BREACH
    assert s.used == pytest.approx(1.0)
    s = sla.standing(clock, OFFICE, sla.Target.RESPONSE, utc(2026, 12, 1, 9, 30))
    assert s is not None
    assert s.used == pytest.approx(2.0)


def test_alerts_come_in_time_order_and_stop_when_met() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    stages = [(a.target, a.stage) for a in sla.alerts(clock)]
    assert stages == [
        (sla.Target.RESPONSE, sla.Stage.WARNING),
        (sla.Target.RESPONSE, sla.Stage.BREACH),
        (sla.Target.RESOLVE, sla.Stage.WARNING),
        (sla.Target.RESOLVE, sla.Stage.BREACH),
    ]
    answered = replace(clock, responded_at=utc(2026, 12, 1, 9, 5))
    assert [a.target for a in sla.alerts(answered)] == [sla.Target.RESOLVE] * 2
    s = sla.standing(answered, OFFICE, sla.Target.RESPONSE, utc(2026, 12, 2))
    assert s is not None
    assert s.stage is sla.Stage.OK


def test_resolution_ends_every_alert_and_freezes_the_response_standing() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    done = replace(clock, resolved_at=utc(2026, 12, 1, 9, 12))
    assert sla.alerts(done) == []
    assert sla.next_due(done, utc(2026, 12, 1, 9)) is None
    s = sla.standing(done, OFFICE, sla.Target.RESPONSE, utc(2026, 12, 9))
    assert s is not None
    assert s.stage is sla.Stage.WARNING  # 12 of 15 minutes used when it was resolved
    assert s.used == pytest.approx(0.8)


def test_the_scheduler_sees_each_alert_once() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    first = sla.due_between(clock, None, utc(2026, 12, 1, 9, 12))
    assert [a.stage for a in first] == [sla.Stage.WARNING]
    again = sla.due_between(clock, utc(2026, 12, 1, 9, 12), utc(2026, 12, 1, 9, 15))
    assert [a.stage for a in again] == [sla.Stage.BREACH]
    assert sla.next_due(clock, utc(2026, 12, 1, 9, 15)) == clock.resolve_warn_at
    assert sla.next_due(clock, utc(2026, 12, 31)) is None


def test_pause_and_resume_shift_what_is_still_ahead() -> None:
    # P2 at Tuesday 16:00 Berlin; response met at 16:10; on hold 17:00 → Wednesday 10:00.
    clock = sla.start(STANDARD, Priority.P2, utc(2026, 12, 1, 15))
    assert clock is not None
    clock = replace(clock, responded_at=utc(2026, 12, 1, 15, 10))
    held = sla.pause(clock, utc(2026, 12, 1, 16))
    assert sla.pause(held, utc(2026, 12, 1, 16, 30)) is held
    assert sla.alerts(held) == []
    assert sla.next_due(held, utc(2026, 12, 1, 16)) is None
    back = sla.resume(held, OFFICE, utc(2026, 12, 2, 9))
    # Working time on hold: 17:00-18:00 Tuesday + 08:00-10:00 Wednesday = 3h.
    assert back.paused_seconds == 3 * 3600
    assert back.paused_at is None
    # Due Wednesday 14:00 Berlin and warned at 12:00 before; three working hours later now.
    assert clock.resolve_due_at == utc(2026, 12, 2, 13)
    assert back.resolve_due_at == utc(2026, 12, 2, 16)
    assert back.resolve_warn_at == utc(2026, 12, 2, 14)
    assert back.response_due_at == clock.response_due_at  # already met: not moved
    assert sla.resume(back, OFFICE, utc(2026, 12, 3)) is back


def test_a_pause_over_a_weekend_costs_no_working_time() -> None:
    clock = sla.start(STANDARD, Priority.P2, utc(2026, 12, 4, 9))  # Friday 10:00 Berlin
    assert clock is not None
    back = sla.resume(sla.pause(clock, utc(2026, 12, 4, 17)), OFFICE, utc(2026, 12, 7, 7))
    assert back.paused_seconds == 0
    assert back.resolve_due_at == clock.resolve_due_at


def test_a_breach_before_the_pause_stays_a_breach() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    back = sla.resume(sla.pause(clock, utc(2026, 12, 1, 10)), OFFICE, utc(2026, 12, 1, 12))
    assert back.response_due_at == clock.response_due_at
    assert clock.resolve_due_at == utc(2026, 12, 1, 13)
    assert back.resolve_due_at == utc(2026, 12, 1, 15)


def test_standing_while_paused_is_frozen() -> None:
    clock = sla.start(STANDARD, Priority.P1, utc(2026, 12, 1, 9))
    assert clock is not None
    held = sla.pause(clock, utc(2026, 12, 1, 10))  # 1h of 4h used
    s = sla.standing(held, OFFICE, sla.Target.RESOLVE, utc(2026, 12, 9))
    assert s is not None
    assert s.stage is sla.Stage.OK
    assert s.used == pytest.approx(0.25)
    back = sla.resume(held, OFFICE, utc(2026, 12, 1, 12))
    s = sla.standing(back, OFFICE, sla.Target.RESOLVE, utc(2026, 12, 1, 14))
    assert s is not None
    assert s.used == pytest.approx(0.75)
    assert s.stage is sla.Stage.WARNING


def test_a_priority_change_recomputes_from_the_start_and_keeps_pauses() -> None:
    clock = sla.start(STANDARD, Priority.P3, utc(2026, 12, 1, 9))
    assert clock is not None
    back = sla.resume(sla.pause(clock, utc(2026, 12, 1, 10)), OFFICE, utc(2026, 12, 1, 11))
    raised = sla.reprioritise(STANDARD, Priority.P1, back)
    assert raised is not None
    assert raised.started_at == clock.started_at
    assert raised.resolve_due_at == utc(2026, 12, 1, 14)  # 4h from 10:00 Berlin, +1h on hold
    assert raised.paused_seconds == 3600
    assert sla.reprioritise(GOLD, Priority.P4, back) is None


def test_round_the_clock_agreement_ignores_office_hours() -> None:
    clock = sla.start(GOLD, Priority.P1, utc(2026, 12, 5, 23, 55))  # Saturday night
    assert clock is not None
    assert clock.response_due_at == utc(2026, 12, 6, 0, 5)
    assert clock.resolve_due_at == utc(2026, 12, 6, 1, 55)


def test_supplier_targets_run_on_their_own_clock() -> None:
    assert sla.choose([NETCO], organisation=None, kind=TicketKind.INCIDENT, service="wan") is NETCO
    assert sla.choose([NETCO], organisation=None, kind=TicketKind.INCIDENT, service="VPN") is None
    clock = sla.start(NETCO, Priority.P1, utc(2026, 12, 5, 11))
    assert clock is not None
    assert clock.response_due_at == utc(2026, 12, 5, 11, 30)
    assert clock.resolve_due_at == utc(2026, 12, 5, 17)
    assert clock.resolve_warn_at == utc(2026, 12, 5, 15, 30)
    assert sla.start(NETCO, Priority.P2, utc(2026, 12, 5, 11)) is None


def test_dst_change_inside_a_round_the_clock_target() -> None:
    berlin = Calendar.build("24x7-berlin", "Europe/Berlin", "Mon-Sun 00:00-24:00")
    policy = sla.Policy("b", sla.AppliesTo(), berlin, targets(P3=(None, "1d")))
    # Saturday 28 March 2026 12:00 CET is 12 working hours into the day; a day later is 12
    # working hours into Sunday, which has only 23 hours: 13:00 CEST on the wall.
    clock = sla.start(policy, Priority.P3, utc(2026, 3, 28, 11))
    assert clock is not None
    assert clock.resolve_due_at == utc(2026, 3, 29, 11)
    assert clock.response_due_at is None
