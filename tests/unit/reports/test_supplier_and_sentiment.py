"""Supplier SLA attainment and sentiment per ticket and channel, against known answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.charts import charts_of, headline
from handlers.reports import desk_figures
from handlers.rules.facts import Mood, SupplierTarget
from handlers.rules.figures import compute, sentiment_by_channel
from store.db import SessionFactory
from store.enums import Status, TicketKind
from store.models import Person, SupplierHandoff, Ticket
from store.uow import UnitOfWork

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

ANGRY = "This is terrible, I am furious, nothing works and nobody helps"
HAPPY = "Thanks so much, great job, the new laptop is wonderful"
PLAIN = "Please install Visio on my laptop"


async def seed(factory: SessionFactory) -> None:
    """Five hand-offs in the period and one before it; four tickets people opened, one alert.

    Known answers:
    - Acme: returned before due (met), after due (breached), not back and past due
      (breached). Globex: not back, due tomorrow (running); returned, no due (no target).
      The old hand-off is outside the period. Attainment: 1 of 3; Acme 1/3, Globex none.
    - Sentiment: Slack has the angry and the plain ticket (1 negative of 2), Telegram the
      happy one and another angry one (1 of 2); the alert is not read: 2 negative of 4.
    """
    opened = NOW - 48 * HOUR
    async with UnitOfWork(factory) as uow:
        s = uow.session
        alice = Person(name="Alice", email="alice@example.com")
        s.add(alice)
        await s.flush()
        texts = [(ANGRY, "slack"), (PLAIN, "slack"), (HAPPY, "telegram"), (ANGRY, "telegram")]
        tickets = []
        for n, (text, channel) in enumerate([*texts, ("CPU above 95%", "alerts")], start=1):
            t = Ticket(
                kind=TicketKind.INCIDENT,
                number=n,
                ref=f"INC-{n}",
                title=text[:40],
                description=text,
                status=Status.IN_PROGRESS,
                requester_id=alice.id,
                origin={"channel": channel, "conversation": "c", "user": "u"},
                created_at=opened,
                updated_at=opened,
            )
            tickets.append(t)
        s.add_all(tickets)
        await s.flush()
        for supplier, handed, due, ended in (
            ("Acme", opened, opened + 4 * HOUR, opened + 3 * HOUR),
            ("Acme", opened, opened + 4 * HOUR, opened + 5 * HOUR),
            ("Acme", opened, opened + 4 * HOUR, None),
            ("Globex", opened, NOW + 24 * HOUR, None),
            ("Globex", opened, None, opened + HOUR),
            ("Acme", NOW - 60 * 24 * HOUR, NOW - 59 * 24 * HOUR, None),
        ):
            s.add(
                SupplierHandoff(
                    ticket_id=tickets[0].id,
                    supplier=supplier,
                    handed_at=handed,
                    resolve_due_at=due,
                    ended_at=ended,
                )
            )
        await uow.commit()


async def test_supplier_attainment_and_sentiment_from_a_known_history(
    factory: SessionFactory,
) -> None:
    await seed(factory)
    async with UnitOfWork(factory) as uow:
        f = await desk_figures(uow, since=NOW - 30 * 24 * HOUR, until=NOW)
    body = f.to_json()
    assert body["supplier_targets_met"] == 1
    assert body["supplier_targets_breached"] == 2
    assert body["supplier_targets_running"] == 1
    assert body["supplier_sla_attainment"] == round(1 / 3, 4)
    assert body["supplier_sla_attainment_by_supplier"] == {"Acme": round(1 / 3, 4), "Globex": None}

    assert body["sentiment_tickets"] == 4
    assert body["sentiment_negative_share"] == 0.5
    by_channel = body["sentiment_by_channel"]
    assert set(by_channel) == {"slack", "telegram"}
    assert by_channel["slack"]["negative"] == 1
    assert by_channel["slack"]["negative_share"] == 0.5
    assert by_channel["telegram"]["positive"] == 1
    assert [m["ref"] for m in body["sentiment_most_negative"]] in (
        ["INC-1", "INC-4"],
        ["INC-4", "INC-1"],
    )
    assert "no sentiment data" not in body["notes"]

    charts = {c.key: c for c in charts_of(f)}
    assert charts["supplier-sla"].values == {"Acme": 1 / 3}
    assert charts["sentiment-channel"].values == {"slack": 0.5, "telegram": 0.5}
    shown = dict(headline(f))
    assert shown["Supplier SLA attainment"] != "no data"


async def test_without_data_the_new_figures_say_so(factory: SessionFactory) -> None:
    async with UnitOfWork(factory) as uow:
        f = await desk_figures(uow, since=NOW - 30 * 24 * HOUR, until=NOW, sentiment=False)
    body = f.to_json()
    assert body["supplier_sla_attainment"] is None
    assert body["sentiment_negative_share"] is None
    assert "no sentiment data" in body["notes"]


def test_sentiment_by_channel_counts_each_label() -> None:
    moods = [
        Mood(ref="INC-1", channel="x", label="negative", score=-0.8),
        Mood(ref="INC-2", channel="x", label="neutral", score=0.0),
        Mood(ref="INC-3", channel=None, label="positive", score=0.6),
    ]
    found = sentiment_by_channel(moods)
    assert found["x"] == {
        "tickets": 2,
        "negative": 1,
        "neutral": 1,
        "positive": 0,
        "negative_share": 0.5,
        "score_mean": -0.4,
    }
    assert found["other"]["positive"] == 1
    f = compute(
        since=NOW - HOUR,
        until=NOW,
        tickets=[],
        open_tickets=[],
        intents={},
        supplier_targets=[SupplierTarget(supplier="A", resolve_due_at=NOW, ended_at=NOW)],
        moods=moods,
    )
    assert f.supplier_sla_attainment == 1.0
    assert f.sentiment_negative_share == 1 / 3
