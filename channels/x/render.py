"""Replies as X shows them: at most one short public reply, and a DM with the rest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from channels.conversation import Reply

TWEET_LIMIT = 280
DM_LIMIT = 10_000
PUBLIC_TEXT = (
    "Thanks for telling us. We're tracking this as {ref} and have sent you the details by DM; "
    "if it didn't arrive, please send us a DM."
)

_REF = re.compile(r"(?:INC|REQ|PRB|CHG)-[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A reply as X shows it: at most one public reply to the person's tweet, and a DM.

    `public` is the text of the public reply, when the reply may have one; `direct` the DM.
    With `direct_always` false the DM is only the fallback for when there is no tweet to
    answer in public (a reply a handler wrote for the public).
    """

    public: str | None
    direct: str
    direct_always: bool = True


def tweet_length(text: str) -> int:
    """X's weighted length: Latin and common punctuation count 1, everything else 2."""
    return sum(
        1
        if o <= 0x10FF or 0x2000 <= o <= 0x200D or 0x2010 <= o <= 0x201F or 0x2032 <= o <= 0x2037
        else 2
        for o in map(ord, text)
    )


def clip_tweet(text: str, limit: int = TWEET_LIMIT) -> str:
    """`text` shortened to fit one tweet, ending in an ellipsis when cut."""
    text = text.strip()
    if tweet_length(text) <= limit:
        return text
    out: list[str] = []
    used = tweet_length("…")
    for ch in text:
        used += tweet_length(ch)
        if used > limit:
            break
        out.append(ch)
    return "".join(out).rstrip() + "…"


def public_text(ticket_ref: str) -> str | None:
    """The public reply about a ticket: its reference and an invitation to DM, nothing else."""
    ref = ticket_ref.strip().upper()
    return PUBLIC_TEXT.format(ref=ref) if _REF.fullmatch(ref) else None


def render(reply: Reply) -> Rendered:
    """Split a reply into what may be said in public and what goes by DM.

    Buttons become numbered choices in the DM (X's API v2 DMs have no buttons); a person
    answers by typing the number or keyword.
    """
    direct = reply.fallback_text().strip()
    if len(direct) > DM_LIMIT:
        direct = direct[: DM_LIMIT - 1].rstrip() + "…"
    if reply.public and reply.text.strip():
        return Rendered(public=clip_tweet(reply.text), direct=direct, direct_always=False)
    if reply.ticket_ref and (public := public_text(reply.ticket_ref)) is not None:
        return Rendered(public=public, direct=direct)
    return Rendered(public=None, direct=direct)
