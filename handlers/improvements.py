"""Continual improvement: anyone can put an idea in the register, from chat or the console.

An idea may carry a measure: one of the desk's figures (`KPIS`) with its value when the idea
was taken up (the baseline) and the value wanted (the target); the register shows it beside
the figure now. The bot proposes candidates itself from the data (`suggest`): the services
with the most incidents and no problem ticket, the intents the bot most often fails to act on
(clarifies or falls back instead), and the catalog items slowest to fulfil. A
candidate already in the register, in any stage, is never proposed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from channels.conversation import Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import registry
from handlers.replies import language, language_of, say
from nlu.types import EntityName, IntentName, Understanding
from store.enums import Role
from store.improvements import Improvement
from store.nlu_misses import fallback_rates
from store.reports import catalog_fulfilment, incident_clusters
from store.uow import UnitOfWork

_LEAD = re.compile(
    r"^\s*(?:idea|suggestion|proposal|improvement|建议|想法|点子)\s*[:：,，-]?\s*", re.IGNORECASE
)


def idea_title(text: str, limit: int = 200) -> str:
    """The idea without its "idea:" lead-in, on one line."""
    clean = " ".join(_LEAD.sub("", text).split())
    return clean[:limit]


async def register(ctx: HandlerContext, text: str) -> Improvement:
    """Put an idea in the register as proposed, proposed by the person asking."""
    return await ctx.uow.improvements.add(
        title=idea_title(text),
        detail=text.strip(),
        proposer=ctx.person,
        channel=ctx.channel,
    )


@registry.intent(IntentName.SUBMIT_IDEA)
async def submit_idea(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Suggest an improvement: "idea: reset passwords from Slack"."""
    text = ctx.params.get("idea") or ctx.text or nlu.text
    if not idea_title(text):
        ctx.expect("idea", intent=IntentName.SUBMIT_IDEA.value)
        return [Reply(text=say(language(ctx, nlu), "improvements.ask"))]
    row = await register(ctx, text)
    service = nlu.first(EntityName.SERVICE)
    ref = nlu.first(EntityName.TICKET_REF)
    row.service = service.value if service else None
    row.ticket_ref = ref.value if ref else None
    return [Reply(text=say(language(ctx, nlu), "improvements.added", ref=row.ref, title=row.title))]


@dataclass(frozen=True, slots=True)
class Kpi:
    """A figure of the desk report an improvement can be measured by."""

    key: str
    label: str
    unit: str
    lower_is_better: bool


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        Kpi("mtta_minutes", "Mean time to acknowledge", "min", True),
        Kpi("mttr_minutes", "Mean time to resolve", "min", True),
        Kpi("sla_attainment", "SLA attainment", "fraction", False),
        Kpi("first_contact_resolution", "First-contact resolution", "fraction", False),
        Kpi("nlu_fallback_per_100_messages", "Fallbacks per 100 messages", "per 100", True),
        Kpi("csat_score_mean", "Satisfaction (1-5)", "score", False),
        Kpi("deflection_rate", "Deflection rate", "fraction", False),
        Kpi("backlog_age_hours_median", "Median backlog age", "h", True),
        Kpi("change_approval_minutes_mean", "Time to approve changes", "min", True),
    )
}
"""The measures an improvement may name, by their key in `switchboard report --format json`."""


def kpi_now(figures: dict[str, Any], key: str | None) -> float | None:
    """The figure's value in a report's JSON, None without data or for an unknown key."""
    if key is None or key not in KPIS:
        return None
    value = figures.get(key)
    return float(value) if isinstance(value, int | float) else None


def progress(row: Improvement, now: float | None) -> float | None:
    """How far from baseline to target the figure has moved: 0 at baseline, 1 at target."""
    base, target = row.kpi_baseline, row.kpi_target
    if now is None or base is None or target is None or target == base:
        return None
    return (now - base) / (target - base)


def set_measure(
    row: Improvement, key: str, baseline: float | None, target: float, now: datetime
) -> None:
    """Measure the idea by KPI `key`, from `baseline` (None: none known) to `target`."""
    if key not in KPIS:
        raise ValueError(f"unknown KPI {key!r}")
    row.kpi = key
    row.kpi_baseline = baseline
    row.kpi_target = target
    row.updated_at = now


@dataclass(frozen=True, slots=True)
class Candidate:
    """An improvement the data suggests, with what it is about (its `source_key`)."""

    key: str
    title: str
    benefit: str
    service: str | None = None
    kpi: str | None = None


SUGGESTED_PER_KIND = 3
SUGGEST_PERIOD = timedelta(days=30)


async def candidates(uow: UnitOfWork, now: datetime) -> list[Candidate]:
    """What the last 30 days suggest, leaving out what the register already holds."""
    since = now - SUGGEST_PERIOD
    known = await uow.improvements.known_sources()
    found: list[Candidate] = []
    clusters = [
        c
        for c in await incident_clusters(uow.session, since, now)
        if f"cluster:{c.service}" not in known
    ]
    for c in clusters[:SUGGESTED_PER_KIND]:
        found.append(
            Candidate(
                key=f"cluster:{c.service}",
                title=f"Find the root cause of the {c.incidents} incidents on {c.service}",
                benefit=f"{c.incidents} incidents in 30 days and no problem ticket for them.",
                service=c.service,
                kpi="mttr_minutes",
            )
        )
    unclear = [
        miss
        for miss in await fallback_rates(uow.session, since, now)
        if f"intent:{miss.intent}" not in known
    ]
    for miss in unclear[:SUGGESTED_PER_KIND]:
        label = miss.intent.replace("_", " ")
        found.append(
            Candidate(
                key=f"intent:{miss.intent}",
                title=f"Teach the bot to understand “{label}” ({miss.rate:.0%} fall back)",
                benefit=f"{miss.missed} of {miss.served + miss.missed} messages read as {label} "
                "got a clarifying question or a fallback instead of an answer.",
                kpi="nlu_fallback_per_100_messages",
            )
        )
    slow = [
        f
        for f in await catalog_fulfilment(uow.session, since, now)
        if f"catalog:{f.item}" not in known
    ]
    for f in slow[:SUGGESTED_PER_KIND]:
        found.append(
            Candidate(
                key=f"catalog:{f.item}",
                title=f"Fulfil “{f.item}” faster (now {f.hours_mean:.1f} h on average)",
                benefit=f"{f.resolved} requests took {f.hours_mean:.1f} hours on average.",
                kpi="mttr_minutes",
            )
        )
    return found


async def suggest(uow: UnitOfWork, now: datetime) -> list[Improvement]:
    """Put the data's new candidates in the register as proposed, by the bot."""
    added = []
    for c in await candidates(uow, now):
        row = await uow.improvements.add(
            title=c.title,
            proposer=None,
            channel="bot",
            service=c.service,
            benefit=c.benefit,
            source_key=c.key,
        )
        row.kpi = c.kpi
        added.append(row)
    return added


@registry.command("suggest", listed=False)
async def suggest_improvements(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Suggest improvements from the desk's data (agents): "suggest improvements"."""
    lang = language(ctx, nlu)
    if not ctx.person.has_role(Role.AGENT):
        return [Reply(text=say(lang, "improvements.agents_only"))]
    added = await suggest(ctx.uow, ctx.now)
    if not added:
        return [Reply(text=say(lang, "improvements.nothing_new"))]
    lines = "\n".join(f"• {r.ref}: {r.title}" for r in added)
    return [Reply(text=say(lang, "improvements.suggested", n=len(added), lines=lines))]


async def suggest_to_leads(uow: UnitOfWork, now: datetime) -> list[Outgoing]:
    """The weekly round: new candidates into the register, and a note to each desk lead.

    Nothing new, nothing sent: the leads hear only of what the register did not hold.
    """
    added = await suggest(uow, now)
    if not added:
        return []
    lines = "\n".join(f"• {r.ref}: {r.title}" for r in added)
    notes = []
    for lead in await uow.improvements.desk_leads():
        lang = language_of(await uow.people.get(lead))
        text = say(lang, "improvements.weekly", n=len(added), lines=lines)
        notes.append(Outgoing(reply=Reply(text=text), person_id=lead))
    return notes
