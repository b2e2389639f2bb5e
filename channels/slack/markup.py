"""Slack's mrkdwn both ways: person's text made inert on the way out, flattened on the way in.

Slack builds mentions, channel pings and links only from `<...>`, so escaped text cannot
form any of them; bidirectional controls are removed so nothing reads differently from
what it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ENTITY = re.compile(r"<([^<>]*)>")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_SPACES = re.compile(r"[ \t]{2,}")


def escape(text: str) -> str:
    """Text made inert for mrkdwn: `&`, `<` and `>` escaped, bidirectional controls removed."""
    clean = _BIDI.sub("", text)
    return clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, *, drop: Sequence[str] = ()) -> str:
    """Slack's formatted text as a person reads it; mentions of the users in `drop` removed.

    `<@U1|ann>` becomes `@ann`, `<#C1|general>` `#general`, `<!here>` `@here`, a labelled
    link `label (url)`, and the `&amp;`-style entities are decoded.
    """

    def flatten(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            if target[1:] in drop:
                return ""
            return "@" + (label or target[1:])
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            word = target[1:].split("^", 1)[0]
            if word in ("here", "channel", "everyone"):
                return "@" + word
            return label or word
        address = target.removeprefix("mailto:")
        if label and label not in (target, address):
            return f"{label} ({address})"
        return address

    flat = _ENTITY.sub(flatten, text)
    flat = flat.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _SPACES.sub(" ", flat).strip()


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stamp(now: datetime) -> str:
    """A time every reader sees in their own time zone (`<!date>`), with a UTC fallback."""
    seconds = int(now.timestamp())
    fallback = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{seconds}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user: str) -> str:
    """A mention of a Slack user id, or nothing when it is not one."""
    return f"<@{user}>" if _USER_ID.match(user) else ""


def mrkdwn(text: str) -> dict[str, object]:
    """A mrkdwn text object for text already escaped.

    `verbatim`: Slack must not turn bare words into links or mentions on its own.
    """
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain_text(text: str, limit: int = 75) -> dict[str, object]:
    """A plain_text object (labels, titles, options), clipped to `limit`."""
    return {"type": "plain_text", "text": clip(text, limit) or " ", "emoji": True}
