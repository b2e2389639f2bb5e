"""Greetings, help, thanks, and what to say when a message is not for us."""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.registry import registry
from handlers.replies import language, say
from handlers.replies.catalog import HELP
from nlu.types import IntentName, Understanding


def _first_name(ctx: HandlerContext) -> str:
    name = (ctx.person.name or "").split()
    return f" {name[0]}" if name and "user" not in ctx.person.name.lower() else ""


@registry.intent(IntentName.GREET, listed=False)
async def greet(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Say hello."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.greet", name=_first_name(ctx)))]


@registry.intent(IntentName.HELP, listed=False)
async def help_(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """List what I can do."""
    lang = language(ctx, nlu)
    # Commands without a translated line keep their English help, with its example command.
    translated = HELP.get(lang, {})
    lines = [say(lang, "smalltalk.help")]
    lines += [f"• {translated.get(key, line)}" for key, line in ctx.help_entries]
    lines.append(say(lang, "smalltalk.help_cancel"))
    return [Reply(text="\n".join(lines))]


@registry.intent(IntentName.THANKS, listed=False)
async def thanks(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Answer thanks."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.thanks"))]


@registry.intent(IntentName.OUT_OF_SCOPE, listed=False)
async def out_of_scope(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Answer a message that is not an IT request."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.out_of_scope"))]


@registry.intent(IntentName.CANCEL, listed=False)
async def cancel(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Cancel outside a dialogue."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.nothing_to_cancel"))]


@registry.intent(IntentName.AFFIRM, listed=False)
async def affirm(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A yes with no question pending."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.affirm"))]


@registry.intent(IntentName.DENY, listed=False)
async def deny(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A no with no question pending."""
    return [Reply(text=say(language(ctx, nlu), "smalltalk.deny"))]
