"""Greetings, help, thanks, and what to say when a message is not for us."""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from nlu.types import IntentName, Understanding


def _first_name(ctx: HandlerContext) -> str:
    name = (ctx.person.name or "").split()
    return f" {name[0]}" if name and "user" not in ctx.person.name.lower() else ""


@registry.intent(IntentName.GREET, listed=False)
async def greet(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Say hello."""
    return [
        Reply(
            text=f"Hi{_first_name(ctx)}! I'm Switchboard, the IT service desk. Tell me what's "
            'wrong, ask for something you need, or say "help".'
        )
    ]


@registry.intent(IntentName.HELP, listed=False)
async def help_(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """List what I can do."""
    lines = ["Here's what I can do:"]
    lines += [f"• {line}" for _intent, line in ctx.help_entries]
    lines.append('Say "cancel" at any point to drop a question I asked.')
    return [Reply(text="\n".join(lines))]


@registry.intent(IntentName.THANKS, listed=False)
async def thanks(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Answer thanks."""
    return [
        Reply(
            text="You're welcome! If the problem is fixed, say \"resolved\" and I'll "
            "close your ticket."
        )
    ]


@registry.intent(IntentName.OUT_OF_SCOPE, listed=False)
async def out_of_scope(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Answer a message that is not an IT request."""
    return [
        Reply(
            text="Sorry, I can only help with IT: report a problem, request something, follow "
            'a ticket or approve a change. Say "help" to see how.'
        )
    ]


@registry.intent(IntentName.CANCEL, listed=False)
async def cancel(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Cancel outside a dialogue."""
    return [Reply(text="There's nothing to cancel right now.")]


@registry.intent(IntentName.AFFIRM, listed=False)
async def affirm(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A yes with no question pending."""
    return [Reply(text="Great. Is there anything else I can help with?")]


@registry.intent(IntentName.DENY, listed=False)
async def deny(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A no with no question pending."""
    return [Reply(text="OK. If you need anything, just tell me what's wrong.")]
