"""The desk's figures against a seeded history whose answers are known in advance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from bot.charts import charts_of, report_html
from handlers.reports import desk_figures
from handlers.rules.attainment import target_outcome
from handlers.rules.figures import Figures
from store.db import SessionFactory
from store.enums import (
    ChangeType,
    Decision,
    InboxStatus,
    Priority,
    Role,
    Status,
    TicketKind,
)
from store.models import (
    Approval,
    Group,
    InboxEvent,
    Person,
    PersonRole,
    Service,
    SurveyAnswer,
    Ticket,
)
from store.uow import UnitOfWork

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MIN = timedelta(minutes=1)


async def seed(factory: SessionFactory) -> None:
    """Ten incidents two days ago (first response after 1..10 minutes), two changes, chat.

    Known answers:
    - MTTA 5.5 min overall; P1 (tickets 1-5): 3.0, P3 (6-10): 8.0.
    - Tickets 1-4 resolved after 60, 120, 180, 240 minutes: MTTR 150 min.
    - Every incident has an SLA: response due at 6 min, resolution due at 200 min.
      Response: 6 met (1..6 min), 4 breached. Resolution: resolved 3 met, 1 breached
      (240 > 200); 6 unresolved, now far past 200 min: 6 breached. 9 met of 20.
    - Ticket 2 was reassigned, ticket 3 reopened: first-contact resolution 2 of 4.
    - An old incident (40 days, still open) is outside the period but in the backlog.
    - Changes: decided 30 and 90 minutes after opening: mean 60, median 60; one undecided.
    - Messages: 20, of which 2 clarify, 1 out_of_scope, 1 handover: 20 per 100.
    - Knowledge offers: 3 answered the question (no ticket), 1 declined: 3 of 16 contacts
      (13 tickets + 3 deflected) were deflected.
    - Surveys: INC-1 rated 4 (network, Slack), INC-2 rated 5 (network, Telegram), INC-6 rated
      2 (service-desk, Telegram), INC-7 asked and not answered: mean 3.67; network 4.5,
      service-desk 2.0; Slack 4.0, Telegram 3.5.
    """
    opened = NOW - 2 * DAY
    async with UnitOfWork(factory) as uow:
        s = uow.session
        net = Group(name="network")
        desk = Group(name="service-desk")
        s.add_all([net, desk])
        await s.flush()
        vpn = Service(name="VPN", owner_group_id=net.id)
        mail = Service(name="Email", owner_group_id=desk.id)
        alice = Person(name="Alice", email="alice@example.com")
        bob = Person(name="Bob", email="bob@example.com")
        carol = Person(name="Carol", email="carol@example.com")
        s.add_all([vpn, mail, alice, bob, carol])
        await s.flush()
        s.add_all(
            [
                PersonRole(person_id=bob.id, role=Role.AGENT),
                PersonRole(person_id=carol.id, role=Role.APPROVER),
            ]
        )
        tickets = []
        for i in range(1, 11):
            p1 = i <= 5
            resolved = opened + 60 * i * MIN if i <= 4 else None
            t = Ticket(
                kind=TicketKind.INCIDENT,
                number=i,
                ref=f"INC-{i}",
                title=f"incident {i}",
                status=Status.RESOLVED if resolved else Status.IN_PROGRESS,
                priority=Priority.P1 if p1 else Priority.P3,
                requester_id=alice.id,
                assignee_id=bob.id,
                group_id=net.id if p1 else desk.id,
                service_id=vpn.id if p1 else mail.id,
                origin={
                    "channel": "slack" if i % 2 else "telegram",
                    "conversation": "c",
                    "user": "u",
                },
                created_at=opened,
                updated_at=opened,
                responded_at=opened + i * MIN,
                resolved_at=resolved,
                sla_name="standard",
                response_due_at=opened + 6 * MIN,
                resolve_due_at=opened + 200 * MIN,
            )
            tickets.append(t)
        old = Ticket(
            kind=TicketKind.INCIDENT,
            number=11,
            ref="INC-11",
            title="old",
            status=Status.NEW,
            requester_id=alice.id,
            created_at=NOW - 40 * DAY,
            updated_at=NOW - 40 * DAY,
        )
        changes = [
            Ticket(
                kind=TicketKind.CHANGE,
                number=n,
                ref=f"CHG-{n}",
                title=f"change {n}",
                status=Status.APPROVED if n < 3 else Status.AWAITING_APPROVAL,
                change_type=ChangeType.NORMAL,
                requester_id=alice.id,
                origin={"channel": "slack", "conversation": "c", "user": "u"},
                created_at=opened,
                updated_at=opened,
            )
            for n in (1, 2, 3)
        ]
        s.add_all([*tickets, old, *changes])
        await s.flush()
        for t in tickets:
            uow.tickets.log(t, "created", actor=alice, channel="slack").at = t.created_at
            uow.tickets.log(t, "assigned", actor=bob, to="Bob")
        uow.tickets.log(tickets[1], "assigned", actor=bob, to="Erin")
        uow.tickets.log(tickets[2], "reopened", actor=alice)
        for change, wait in zip(changes[:2], (30, 90), strict=True):
            s.add(
                Approval(
                    ticket_id=change.id,
                    approver_id=carol.id,
                    decision=Decision.APPROVED,
                    at=opened + wait * MIN,
                )
            )
        intents = ["report_incident"] * 12 + ["check_status"] * 4
        intents += ["clarify", "clarify", "out_of_scope", "handover"]
        for n, intent in enumerate(intents):
            s.add(
                InboxEvent(
                    platform="slack",
                    event_id=f"e{n}",
                    payload={"kind": "message", "text": "x"},
                    status=InboxStatus.DONE,
                    intent=intent,
                    received_at=opened + n * MIN,
                )
            )
        # Button clicks and alerts are not messages; an old message is outside the period.
        s.add(
            InboxEvent(
                platform="slack",
                event_id="click",
                payload={"kind": "action"},
                status=InboxStatus.DONE,
                intent="clarify",
                received_at=opened,
            )
        )
        s.add(
            InboxEvent(
                platform="slack",
                event_id="old",
                payload={"kind": "message"},
                status=InboxStatus.DONE,
                intent="out_of_scope",
                received_at=NOW - 40 * DAY,
            )
        )
        for t, rating in ((tickets[0], 4), (tickets[1], 5), (tickets[5], 2), (tickets[6], None)):
            s.add(
                SurveyAnswer(
                    ticket_id=t.id,
                    group_id=t.group_id,
                    channel=t.origin["channel"] if t.origin else "",
                    asked_at=opened + DAY,
                    rating=rating,
                    answered_at=opened + DAY + MIN if rating else None,
                )
            )
        for outcome in ("deflected", "deflected", "deflected", "declined"):
            await uow.catalog.record_deflection(
                person_id=alice.id,
                intent="report_incident",
                article_id=None,
                outcome=outcome,
                channel="slack",
            )
        await uow.commit()


async def figures_of(factory: SessionFactory) -> Figures:
    async with UnitOfWork(factory) as uow:
        return await desk_figures(uow, since=NOW - 30 * DAY, until=NOW)


async def test_known_history_gives_known_figures(factory: SessionFactory) -> None:
    await seed(factory)
    f = await figures_of(factory)
    data = f.to_json()

    assert data["tickets_created"] == 13
    assert data["volume_by_kind"] == {"incident": 10, "change": 3}
    assert data["volume_by_channel"] == {"slack": 8, "telegram": 5}
    assert data["volume_by_service"] == {"VPN": 5, "Email": 5, "(no service)": 3}
    assert data["mtta_minutes"] == 5.5
    assert data["mtta_minutes_by_priority"] == {"P1": 3.0, "P3": 8.0}
    assert data["mtta_minutes_by_group"] == {"network": 3.0, "service-desk": 8.0}
    assert data["mttr_minutes"] == 150.0
    assert data["mttr_minutes_by_priority"] == {"P1": 150.0}
    assert (data["sla_targets_met"], data["sla_targets_breached"]) == (9, 11)
    assert data["sla_attainment"] == 0.45
    assert data["sla_response_attainment"] == 0.6
    assert data["sla_resolution_attainment"] == 0.3
    assert data["first_contact_resolution"] == 0.5
    assert data["backlog_open"] == 10
    assert data["backlog_age_hours_max"] == 960.0
    assert data["nlu_messages"] == 20
    assert data["nlu_fallbacks"] == 4
    assert data["nlu_fallback_per_100_messages"] == 20.0
    assert data["changes_decided"] == 2
    assert data["change_approval_minutes_mean"] == 60.0
    assert data["change_approval_minutes_median"] == 60.0
    assert data["csat_responses"] == 3
    assert data["csat_score_mean"] == 3.67
    assert data["csat_by_group"] == {"network": 4.5, "service-desk": 2.0}
    assert data["csat_by_channel"] == {"slack": 4.0, "telegram": 3.5}
    assert data["deflected"] == 3
    assert data["deflection_rate"] == 0.1875


async def test_backlog_counts_every_open_ticket_by_age(factory: SessionFactory) -> None:
    await seed(factory)
    f = await figures_of(factory)
    # 6 open incidents and 1 waiting change opened 2 days ago (1-3 days), 1 open for 40 days.
    # The approved changes are open too (approved, not yet done): 2 more at 2 days.
    assert f.backlog_by_age == {
        "under 1 day": 0,
        "1-3 days": 9,
        "3-7 days": 0,
        "over 7 days": 1,
    }
    assert f.backlog_age_hours_median == 48.0


async def test_an_empty_desk_reports_no_data_rather_than_zero(factory: SessionFactory) -> None:
    f = await figures_of(factory)
    data = f.to_json()
    assert data["tickets_created"] == 0
    for key in ("mtta_minutes", "mttr_minutes", "sla_attainment", "first_contact_resolution"):
        assert data[key] is None
    assert data["nlu_fallback_per_100_messages"] is None
    assert data["deflection_rate"] is None
    assert data["csat_score_mean"] is None
    assert "no data" in report_html(f)


def test_a_paused_target_has_not_breached_while_paused() -> None:
    due = NOW
    assert target_outcome(due, None, NOW - MIN, NOW + DAY) == "running"
    assert target_outcome(due, None, NOW + MIN, NOW + DAY) == "breached"
    assert target_outcome(due, NOW - MIN, None, NOW + DAY) == "met"
    assert target_outcome(None, None, None, NOW) is None


async def test_charts_draw_one_bar_per_value(factory: SessionFactory) -> None:
    await seed(factory)
    f = await figures_of(factory)
    by_key = {c.key: c for c in charts_of(f)}
    svg = by_key["volume-channel"].svg()
    assert svg.count('class="bar"') == 2
    assert "<title" in svg
    page = report_html(f)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert page.count("<svg") == len(by_key)


def test_report_command_prints_one_json_object(tmp_path: Path) -> None:
    from bot.cli import app

    url = f"sqlite:///{tmp_path}/cli.db"
    runner = CliRunner()
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(app, ["report", "--since", "7d", "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["period_days"] == 7.0
    assert data["tickets_created"] == 0
    assert "mtta_minutes" in data
    assert "sla_attainment" in data

    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--format", "html", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8").startswith("<!doctype html>")

    bad = runner.invoke(app, ["report", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2
