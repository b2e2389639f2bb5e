"""Impact in chat: "what breaks if db-01 goes down" answered from the configuration database."""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.cmdb import impact
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, say
from nlu.types import EntityName, IntentName, Understanding
from store.models import Service

SHOWN = 10
_TOKEN = re.compile(r"[\w][\w.\-]*[\w]|\w")


async def named_item(nlu: Understanding, ctx: HandlerContext) -> Service | None:
    """The configuration item a message names: an item's exact name, else the NLU's service.

    The exact name comes first so that `payroll-db` is not read as the Payroll it contains.
    """
    words = _TOKEN.findall(nlu.text)
    # Longer phrases first, so "mail relay" wins over "mail".
    for size in (3, 2, 1):
        for i in range(len(words) - size + 1):
            phrase = " ".join(words[i : i + size])
            found = await ctx.uow.cmdb.by_name(phrase)
            if found is not None:
                return found
    # Aliases ("mail" for Email) only the NLU knows.
    for e in nlu.entities:
        if e.entity == EntityName.SERVICE:
            found = await ctx.uow.cmdb.by_name(e.value) or await ctx.uow.services.by_name(e.value)
            if found is not None:
                return found
    return None


@registry.intent(IntentName.QUERY_IMPACT)
async def query_impact(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """What breaks if something goes down: "what is affected if db-cluster-1 is down?"."""
    lang = language(ctx, nlu)
    item = await named_item(nlu, ctx)
    if item is None:
        return [Reply(text=say(lang, "impact.which"))]
    found = await impact(ctx.uow, item)
    if found.total == 0:
        return [Reply(text=say(lang, "impact.none", name=item.name))]
    lines = [say(lang, "impact.head", name=item.name, n=found.total)]
    for a in found.services[:SHOWN]:
        open_ = say(lang, "impact.open", n=a.open_incidents) if a.open_incidents else ""
        lines.append(f"• {a.name} ({a.criticality.value}{open_})")
    rest = found.total - min(len(found.services), SHOWN)
    if rest:
        lines.append(say(lang, "impact.more", n=rest))
    return [Reply(text="\n".join(lines))]
