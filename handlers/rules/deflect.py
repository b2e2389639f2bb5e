"""When an article may be offered in place of a ticket, and when it fits the message well.

An outage report never waits: anything that reads as touching more people than the reporter
(a team, everyone, "the VPN is down") or that is urgent is filed at once, article or not.
Only a one-person problem, a how-to question or a request is offered an article first, and
only when the article covers the message: most of its words appear in the article, and at
least one in the title or tags, where an article says what it is about.
"""

from __future__ import annotations

from collections.abc import Collection

from handlers.rules.priority import Reach
from store.enums import Level

MIN_COVERAGE = 0.6
"""Share of the message's words the article must contain."""

MIN_WORDS = 2
"""Words a message must share with the article: one word alone ("email") is too little."""

FILLER = frozenset(
    """need want help like would could new again anymore still just work working doesn't
    won't can't isn't anyone someone something thing problem issue broken fix fixed today
    now hi hello thanks thank pls plz i'm i've i'd it's me""".split()
)
"""Words that say little about which article is meant."""


def may_offer(reach: Reach, urgency: Level | None, *, incident: bool) -> bool:
    """Whether a message may be offered an article before its ticket is filed.

    A problem report must say it is the reporter's own ("my printer", "I can't"): one that
    does not say who is affected may be an outage and is filed first. A request or a how-to
    question only has to stay clear of outage words and urgency.
    """
    if urgency is Level.HIGH:
        return False
    if incident:
        return reach is Reach.ONE
    return reach in (Reach.ONE, Reach.UNSTATED)


def fits(message: Collection[str], about: Collection[str], body: Collection[str]) -> bool:
    """Whether an article (title and tag terms `about`, body terms `body`) fits a message.

    Terms are index terms (`store.segment.terms`), so both languages compare alike.
    """
    words = {w for w in message if w not in FILLER}
    if not words:
        return False
    strong = words & set(about)
    covered = words & (set(about) | set(body))
    return bool(strong) and len(covered) >= MIN_WORDS and len(covered) / len(words) >= MIN_COVERAGE
