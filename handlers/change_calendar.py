"""The change calendar in chat: the `planned` command, and questions about what is planned.

"planned changes", "planned Saturday 00:00 to Monday 00:00" and "what changes are planned
this weekend?" all list the changes scheduled and the freeze windows in the days asked about:
a week from the first day named (or from now) unless an end or a weekend is named.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from channels.conversation import Reply
from handlers.change_messages import instants, moment
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, say
from nlu.types import Understanding


@registry.command("planned")
async def change_calendar(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What changes are planned: "planned changes", or "planned Saturday 00:00 to Monday 00:00"."""
    when = instants(nlu)
    start = when[0] if when else ctx.now
    end = when[1] if len(when) > 1 else start + timedelta(days=7)
    return await _calendar(ctx, start, end, language(ctx, nlu))


_ASKS_CALENDAR = re.compile(
    r"^\s*(?:what|which|any|show|list|tell me)\b.*\bchanges?\b.*\b(?:planned|scheduled)\b",
    re.IGNORECASE,
)
_WEEKEND = re.compile(r"\b(?:(next)\s+)?week-?end\b", re.IGNORECASE)


def asks_calendar(text: str) -> bool:
    """Whether a message asks about the change calendar and names no ticket.

    "What changes are planned this weekend?" is one; a question about one change goes to its
    own handlers.
    """
    return bool(_ASKS_CALENDAR.search(text)) and not re.search(r"\b[A-Z]{3}-\d+", text, re.I)


def weekend(now: datetime, *, following: bool = False) -> tuple[datetime, datetime]:
    """Saturday 00:00 to Monday 00:00 (UTC) of this weekend, or the next with `following`.

    On a Saturday or Sunday this weekend is the one under way.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    saturday = midnight + timedelta(days=(5 - now.weekday()) % 7)
    if now.weekday() == 6:
        saturday = midnight - timedelta(days=1)
    if following:
        saturday += timedelta(days=7)
    return saturday, saturday + timedelta(days=2)


@registry.shape(asks_calendar)
async def calendar_question(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What changes are planned this weekend (or in the days a message names)."""
    when = instants(nlu)
    said = _WEEKEND.search(nlu.text)
    if len(when) > 1:
        start, end = when[0], when[1]
    elif said is not None:
        start, end = weekend(ctx.now, following=bool(said.group(1)))
    elif when:
        start, end = when[0], when[0] + timedelta(days=7)
    else:
        start, end = ctx.now, ctx.now + timedelta(days=7)
    return await _calendar(ctx, start, end, language(ctx, nlu))


async def _calendar(
    ctx: HandlerContext, start: datetime, end: datetime, lang: str = "en"
) -> list[Reply]:
    changes = await ctx.uow.changes.scheduled_between(start, end)
    freezes = await ctx.uow.changes.freezes_between(start, end)
    if not changes and not freezes:
        return [
            Reply(
                text=say(
                    lang,
                    "step.nothing_planned",
                    start=moment(start, lang, day=True),
                    end=moment(end, lang, day=True),
                )
            )
        ]
    lines = [say(lang, "step.planned", start=moment(start, lang), end=moment(end, lang))]
    lines += [
        say(
            lang,
            "step.planned_change",
            ref=t.ref,
            title=t.title,
            start=moment(t.planned_start, lang),
            end=f"{t.planned_end:%H:%M}",
        )
        for t in changes
        if t.planned_start is not None and t.planned_end is not None
    ]
    lines += [
        say(
            lang,
            "step.planned_freeze",
            name=f.name,
            start=moment(f.starts_at, lang),
            end=moment(f.ends_at, lang),
        )
        for f in freezes
    ]
    return [Reply(text="\n".join(lines))]
