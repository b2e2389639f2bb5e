"""Self-service knowledge: answers people can use before, or instead of, a ticket."""

from __future__ import annotations

import re

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.links import is_private
from handlers.registry import registry
from handlers.replies import language, say
from nlu.types import IntentName, Understanding

_WORD = re.compile(r"[\w\u4e00-\u9fff]+", re.UNICODE)
_STOP = frozenset(
    """a an and are can do does for from get have how i in is it me my of on or please
    set setup the to up what where which why with you your""".split()
)


def search_terms(nlu: Understanding) -> list[str]:
    """The words worth searching for: entities first, then the text without filler."""
    terms = [e.value for e in nlu.entities if e.entity in ("service", "catalog_item")]
    terms += [w for w in _WORD.findall(nlu.text.lower()) if w not in _STOP]
    return list(dict.fromkeys(terms))


@registry.intent(IntentName.SEARCH_KNOWLEDGE)
async def search_knowledge(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Look something up in the knowledge base: "how do I set up VPN on my phone?"."""
    lang = language(ctx, nlu)
    articles = await ctx.uow.knowledge.search(search_terms(nlu))
    if not articles:
        return [Reply(text=say(lang, "kb.none"))]
    lines = [say(lang, "kb.found")]
    for a in articles:
        first = a.body.strip().split("\n", 1)[0]
        lines.append(f"• {a.title}: {first[:300]}")
    lines.append(say(lang, "kb.no_help"))
    if not is_private(ctx.address):
        # What someone looked up is their own business, even when asked in a shared channel.
        return [
            Reply(text="\n".join(lines), ephemeral=True),
            Reply(text=say(lang, "kb.sent_privately")),
        ]
    return [Reply(text="\n".join(lines))]
