"""The satisfaction survey: one question to the requester after their ticket is resolved.

The service-level watcher asks (`ask`), on the channel the ticket came from, with buttons
1 to 5 where the channel has buttons and the typed form `rate INC-7 4` everywhere (the
buttons' keyword, so a channel without buttons offers it). An answer that is not 1 to 5
is asked again once. Answers are stored with the ticket's group, agent and channel
(`store.surveys`), where reports read them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from channels.conversation import Address, Button, Reply
from handlers.context import HandlerContext, Outgoing
from handlers.registry import registry
from handlers.replies import language, language_of, say
from nlu.types import EntityName, Understanding
from store.enums import Status
from store.models import SurveyAnswer, Ticket
from store.uow import UnitOfWork

_CJK = re.compile(r"[\u4e00-\u9fff]")

ACTION = "survey"
"""The buttons' action; the value is `INC-7:4`."""

ASKED_WITHIN = timedelta(days=3)
"""Tickets resolved longer ago than this are not asked any more (the watcher was away)."""

CHANNEL = "sla"
"""The channel recorded on the `survey_asked` event: no person acted."""

_WORDS = {"👍": 5, "👎": 1, "thumbs up": 5, "thumbs down": 1}
_REF = re.compile(r"\b(?:INC|REQ|PRB|CHG)-\d+\b", re.IGNORECASE)
_STARS = "★⭐*"
_KEYCAP = re.compile("(\\d)\ufe0f?\u20e3")
_RATE_COMMAND = re.compile(
    r"^\W*rate\b[\s:,.-]*"
    # A ticket first, or a rating form: a number, stars, a thumb.
    r"(?:(?:INC|REQ|PRB|CHG)-\d+\b|\d+(?!\w)|[★⭐☆*]|👍|👎|thumbs\s+(?:up|down)\b)",
    re.IGNORECASE,
)


_BARE_RATING = re.compile(
    r"^\s*(?:"
    # A number alone ("4", "9" to be asked again), or one that says it is a rating.
    r"\d{1,2}\s*[.!]?|\d{1,2}\s*(?:/\s*5|stars?)\b.*"
    r"|[1-5]\ufe0f?\u20e3.*|[★⭐☆*]{1,5}(?:\s.*)?|👍.*|👎.*"
    r")\s*$",
    re.DOTALL,
)


def is_bare_rating(text: str) -> bool:
    """Whether a message is a rating without "rate" ("4", "4/5 great", "★★★★☆").

    Such a message answers a survey, when one is waiting.
    """
    return _BARE_RATING.match(text) is not None


def is_rating(text: str) -> bool:
    """Whether a message starting with "rate" answers a survey.

    "rate INC-7 ...", "rate 4", "rate ★★★★" and "rate 👍" do; "rate limits on the API are too
    low" does not.
    """
    return _RATE_COMMAND.match(text) is not None


def question(ticket: Ticket, *, again: bool = False) -> Reply:
    """The survey's one question, with a button per rating, in the requester's language."""
    lang = language_of(ticket.requester, ticket)
    ask = (
        say(lang, "survey.again", ref=ticket.ref)
        if again
        else say(lang, "survey.ask", ref=ticket.ref, title=ticket.title)
    )
    return Reply(
        text=say(lang, "survey.scale", ask=ask, ref=ticket.ref),
        buttons=tuple(
            Button(label=str(n), action=ACTION, value=f"{ticket.ref}:{n}", keyword=f"rate {n}")
            for n in range(1, 6)
        ),
        ticket_ref=ticket.ref,
    )


_NO_CONVERSATION = frozenset({"api", "alerts"})
"""Origins nobody answers on: the requester is asked where they last wrote instead."""


def _where(ticket: Ticket) -> tuple[str, Outgoing]:
    """The channel the ticket came from and the notification to it (else the requester's)."""
    reply = question(ticket)
    if ticket.origin and ticket.origin.get("channel") not in _NO_CONVERSATION:
        address = Address.from_dict(ticket.origin)
        return address.channel, Outgoing(reply=reply, address=address)
    return "", Outgoing(reply=reply, person_id=ticket.requester_id)


async def ask(uow: UnitOfWork, ticket: Ticket, now: datetime) -> list[Outgoing]:
    """Ask a resolved ticket's requester, once; nothing for a ticket asked or reopened."""
    if ticket.status is not Status.RESOLVED or await uow.surveys.of_ticket(ticket.id):
        return []
    channel, out = _where(ticket)
    uow.surveys.asked(ticket, channel, now)
    event = uow.tickets.log(ticket, "survey_asked", actor=None, channel=CHANNEL, on=channel)
    event.at = now
    # The asking is the ticket's change: a second watcher in a handover loses on the version.
    uow.desk.claim(ticket)
    return [out]


def rating_of(text: str) -> tuple[int | None, str]:
    """The rating (1 to 5) said first in `text`, and the rest as a comment.

    A number (`4`, `4/5`, `4 stars`, the keycap emoji 4️⃣), stars (`★★★★☆`, `⭐⭐⭐⭐`,
    `****`) or a thumb (👍 is 5, 👎 is 1).
    """
    said = _KEYCAP.sub(r"\1", text.strip())
    for word, value in _WORDS.items():
        if said.casefold().startswith(word):
            return value, said[len(word) :].strip(" ,.-:")
    stars = re.match(rf"^([{_STARS}☆\ufe0f\s]+)(.*)$", said, re.DOTALL)
    if stars is not None and any(c in _STARS for c in stars.group(1)):
        count = sum(c in _STARS for c in stars.group(1))
        return (count if 1 <= count <= 5 else None), stars.group(2).strip(" ,.-:")
    found = re.match(r"^\s*(\d+)(?:\s*/\s*5)?(?:\s*stars?)?\b[\s,.:-]*(.*)$", said, re.DOTALL)
    if found is None or not 1 <= int(found.group(1)) <= 5:
        return None, said
    return int(found.group(1)), found.group(2).strip()


async def answer(ctx: HandlerContext, ref: str, said: str) -> list[Reply]:
    """Store a requester's answer to the survey of `ref`; one re-ask when it is not 1 to 5."""
    ticket = await ctx.uow.tickets.by_ref(ref)
    # "4" or a button says nothing of a language: the requester's, as they were asked.
    lang = language(ctx) if _CJK.search(ctx.text) else language_of(ctx.person, ticket)
    if ticket is None or ticket.requester_id != ctx.person.id:
        return [Reply(text=say(lang, "survey.not_asked", ref=ref.upper()))]
    row: SurveyAnswer | None = await ctx.uow.surveys.of_ticket(ticket.id)
    if row is None:
        return [
            Reply(text=say(lang, "survey.not_asked_yet", ref=ticket.ref), ticket_ref=ticket.ref)
        ]
    rating, comment = rating_of(said)
    if rating is None:
        if row.reasked or row.rating is not None:
            return [Reply(text=say(lang, "survey.left", ref=ticket.ref))]
        row.reasked = True
        return [question(ticket, again=True)]
    row.rating = rating
    row.comment = comment[:2000] or row.comment
    row.answered_at = ctx.now
    ctx.log(ticket, "survey_answered", rating=rating)
    key = "survey.thanks_comment" if comment else "survey.thanks"
    return [Reply(text=say(lang, key, rating=rating, ref=ticket.ref))]


@registry.action(ACTION)
async def survey_button(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A rating button: the value is `INC-7:4`."""
    ref, _, said = ctx.params.get("ref", "").partition(":")
    return await answer(ctx, ref, said)


@registry.shape(is_bare_rating)
async def bare_rating(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """A survey answered without "rate": "4", "4/5 quick", "★★★★★"."""
    ref = await ctx.uow.surveys.unanswered_for(ctx.person.id, since=ctx.now - ASKED_WITHIN)
    if ref is None:
        # Nothing waiting for an answer: the NLU reads the message as usual.
        return []
    return await answer(ctx, ref, ctx.text)


@registry.command("rate", listed=False, when=is_rating)
async def rate_command(nlu: Understanding, ctx: HandlerContext) -> list[Reply]:
    """Rate a resolved ticket: "rate INC-7 4 quick and friendly"."""
    rest = re.sub(r"^\W*rate\b", "", ctx.text, flags=re.IGNORECASE)
    named = _REF.search(rest)
    ent = nlu.first(EntityName.TICKET_REF)
    ref = named.group(0) if named else (ent.value if ent else "")
    if not ref:
        latest = await ctx.uow.surveys.latest_for(ctx.person.id)
        if latest is None:
            return [Reply(text=say(language(ctx, nlu), "survey.how"))]
        ref = latest
    said = _REF.sub(" ", rest, count=1) if named else rest
    return await answer(ctx, ref, said)
