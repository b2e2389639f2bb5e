"""Signing in to the web pages from chat: a one-time link, given only where no one else reads.

The application tells this module where the web process is reached (`use_base_url`), as it
gives link codes their key; a link is `<base>/signin/<token>`, works once, for 15 minutes.
"""

from __future__ import annotations

from channels.conversation import Reply
from handlers.context import HandlerContext
from handlers.links import is_private
from handlers.registry import registry
from handlers.replies import language, say
from nlu.types import IntentName, Understanding
from store.enums import Role
from store.signins import LINK_TTL

DEFAULT_BASE = "http://127.0.0.1:8000"


class _Web:
    base: str = DEFAULT_BASE


def use_base_url(url: str) -> None:
    """Where sign-in links point (`PUBLIC_URL`, else the web process's own address)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError("the web base URL must start with http:// or https://")
    _Web.base = url.rstrip("/")


def link_for(token: str, next_path: str = "") -> str:
    """The one-time sign-in address for `token`, sending the person on to `next_path`."""
    return f"{_Web.base}/signin/{token}" + (f"?next={next_path}" if next_path else "")


_CONSOLE_WORDS = ("console", "控制台", "工作台")


@registry.intent(IntentName.SIGNIN)
async def signin(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Sign in to the self-service portal: "sign in" gives you a one-time link."""
    lang = language(ctx, nlu)
    if not is_private(ctx.address):
        return [Reply(text=say(lang, "signin.private_only"))]
    _, token = await ctx.uow.signins.issue(ctx.person, channel=ctx.channel, now=ctx.now)
    minutes = int(LINK_TTL.total_seconds() // 60)
    asked = (ctx.text or nlu.text).lower()
    console = ctx.person.has_role(Role.AGENT) and any(w in asked for w in _CONSOLE_WORDS)
    where, path = ("signin.console", "/console") if console else ("signin.portal", "")
    return [
        Reply(
            text=say(
                lang,
                "signin.link",
                where=say(lang, where),
                minutes=minutes,
                link=link_for(token, path),
            ),
            sensitive=True,
        )
    ]
