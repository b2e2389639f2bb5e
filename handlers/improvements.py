"""Continual improvement: anyone can put an idea in the register, from chat or the console."""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from nlu.types import EntityName, IntentName, Understanding
from store.improvements import Improvement

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
        return [Reply(text="What's your idea? Tell me in a sentence or two.")]
    row = await register(ctx, text)
    service = nlu.first(EntityName.SERVICE)
    ref = nlu.first(EntityName.TICKET_REF)
    row.service = service.value if service else None
    row.ticket_ref = ref.value if ref else None
    return [
        Reply(
            text=f"Thanks! I've added {row.ref} to the improvement register: {row.title}. "
            "The service desk's leads review it."
        )
    ]
