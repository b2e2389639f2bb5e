"""Help channels and emoji ticketing: what a post, an edit or a reaction there stands for.

In a help channel (`#it-help`) every top-level post is meant for the desk, mentioned or not:
it is understood like a direct message and answered in its thread, and later replies in
that thread are the same conversation. A 🎫 reaction on any message the bot can see files
a ticket for the message's author; that one needs the message itself, which the event does
not carry, so it comes out as a `TicketRequest` for the listener to complete. Pure
functions of a request body: nothing here talks to Slack.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.conversation import Action, Address, Event, Identity, Message
from channels.slack.ids import PLATFORM
from channels.slack.markup import plain

RESOLVE_REACTION = "white_check_mark"
"""✅ from an agent on a thread's first post resolves the ticket filed from it."""
TAKEN_REACTION = "eyes"
"""👀, added to every help-channel post the desk has taken."""
NOTE_PREFIX = "note:"
"""A thread reply starting with this is an internal note on the thread's ticket."""
MAX_TEXT = 4000

# Slack's markup for links, mentions and emoji codes, and the pictographs people paste.
_MARKUP = re.compile(r"<[^>]*>|:[a-z0-9_+'\-]+:|https?://\S+", re.IGNORECASE)
# Person-written subtypes; joins, edits, deletions and bots' posts are none of them.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


@dataclass(frozen=True, slots=True)
class HelpSettings:
    """Where posts are taken without a mention, and which reaction files a ticket."""

    channels: frozenset[str] = frozenset()
    ticket_reaction: str = "ticket"


@dataclass(frozen=True, slots=True)
class TicketRequest:
    """A ticket reaction: the message at `channel`/`ts` is to become a ticket.

    `reactor` asked for it; `author` (when Slack said) wrote the message.
    """

    team: str
    channel: str
    ts: str
    reactor: str
    author: str

    @property
    def event_id(self) -> str:
        """One ticket per message, whoever reacts and however often: the inbox dedups on it."""
        return f"reaction:{self.channel}:{self.ts}"


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _when(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def only_decoration(text: str) -> bool:
    """True for a post with nothing to act on: only emoji, links or mentions."""
    return not re.search(r"\w", _MARKUP.sub(" ", text))


def is_top_level(message: Mapping[str, Any]) -> bool:
    """A channel post itself, not a reply in a thread."""
    thread = _str(message, "thread_ts")
    return not thread or thread == _str(message, "ts")


def parse_help(
    body: Mapping[str, Any], help: HelpSettings, ours: Collection[str]
) -> list[Event] | TicketRequest | None:
    """A help-channel post, edit or reaction as events; None when it is none of those.

    A ticket reaction anywhere is a `TicketRequest`. An @mention in a help channel yields
    nothing: the same post arrives as a channel message, which is taken instead.
    """
    event = _dict(body, "event")
    kind = _str(event, "type")
    event_id = _str(body, "event_id")
    team = _str(body, "team_id") or _str(event, "team")
    if kind == "reaction_added":
        return _reaction(event, event_id, team, help, ours)
    if kind == "reaction_removed":
        # Removing the reaction leaves the ticket where it is.
        return []
    channel = _str(event, "channel")
    if channel not in help.channels:
        return None
    if kind == "app_mention":
        return []
    if kind != "message":
        return None
    if _str(event, "subtype") == "message_changed":
        return _edit(event, event_id, team, channel, ours)
    subtype = event.get("subtype")
    user = _str(event, "user")
    if subtype not in _PERSON_SUBTYPES or event.get("bot_id") or not user or user in ours:
        return []
    ts = _str(event, "ts")
    raw = _str(event, "text")
    if not ts or (is_top_level(event) and only_decoration(raw)):
        return []
    text = plain(raw, drop=sorted(ours))
    thread = _str(event, "thread_ts") or ts
    address = Address(
        channel=PLATFORM, workspace=team, conversation=channel, thread=thread, user=user
    )
    sender = Identity(platform=PLATFORM, external_id=user)
    when = _when(_str(event, "event_ts") or ts)
    if not is_top_level(event) and text.lower().startswith(NOTE_PREFIX):
        note = text[len(NOTE_PREFIX) :].strip()[:MAX_TEXT]
        return [
            Action(
                event_id=event_id,
                address=address,
                sender=sender,
                name="thread_note",
                params={"note": note, "message_id": ts},
                received_at=when,
            )
        ]
    parent_author = _str(event, "parent_user_id")
    if not is_top_level(event) and parent_author and parent_author != user:
        # Somebody else answering the person who asked: the desk records it, the bot is silent.
        return [
            Action(
                event_id=event_id,
                address=address,
                sender=sender,
                name="thread_reply",
                params={"text": text[:MAX_TEXT], "message_id": ts},
                received_at=when,
            )
        ]
    listed = event.get("files")
    files = [f for f in listed if isinstance(f, Mapping)] if isinstance(listed, list) else []
    attachments = tuple(_str(f, "permalink") or _str(f, "name") for f in files[:10])
    return [
        Message(
            event_id=event_id,
            address=address,
            sender=sender,
            text=text,
            received_at=when,
            direct=True,
            attachments=tuple(a for a in attachments if a),
        )
    ]


def _edit(
    event: Mapping[str, Any], event_id: str, team: str, channel: str, ours: Collection[str]
) -> list[Event]:
    """An edit of a thread's first post: the ticket filed from it gets the new text."""
    edited = _dict(event, "message")
    before = _dict(event, "previous_message")
    user = _str(edited, "user")
    ts = _str(edited, "ts") or _str(before, "ts")
    thread = _str(edited, "thread_ts")
    if not user or user in ours or edited.get("bot_id") or not ts or thread not in ("", ts):
        return []
    text = plain(_str(edited, "text"), drop=sorted(ours))
    if not text or text == plain(_str(before, "text"), drop=sorted(ours)):
        # Unfurls and thread bookkeeping arrive as edits that change no words.
        return []
    return [
        Action(
            event_id=event_id,
            address=Address(
                channel=PLATFORM, workspace=team, conversation=channel, thread=ts, user=user
            ),
            sender=Identity(platform=PLATFORM, external_id=user),
            name="update_description",
            params={"description": text[:MAX_TEXT], "message_id": ts},
            received_at=_when(_str(event, "event_ts")),
        )
    ]


def _reaction(
    event: Mapping[str, Any],
    event_id: str,
    team: str,
    help: HelpSettings,
    ours: Collection[str],
) -> list[Event] | TicketRequest:
    item = _dict(event, "item")
    user = _str(event, "user")
    channel, ts = _str(item, "channel"), _str(item, "ts")
    if _str(item, "type") != "message" or not user or user in ours or not channel or not ts:
        return []
    name = _str(event, "reaction")
    if name == help.ticket_reaction:
        return TicketRequest(
            team=team, channel=channel, ts=ts, reactor=user, author=_str(event, "item_user")
        )
    if name == RESOLVE_REACTION and channel in help.channels:
        return [
            Action(
                event_id=event_id,
                address=Address(
                    channel=PLATFORM, workspace=team, conversation=channel, thread=ts, user=user
                ),
                sender=Identity(platform=PLATFORM, external_id=user),
                name="resolve_thread",
                params={"message_id": ts},
                received_at=_when(_str(event, "event_ts")),
            )
        ]
    return []


def ticket_action(request: TicketRequest, message: Mapping[str, Any], link: str) -> Action | None:
    """The reacted message as a ticket for its author, filed by the reactor; None for a bot's."""
    author = _str(message, "user") or request.author
    if not author or message.get("bot_id") or _str(message, "subtype") == "bot_message":
        return None
    text = plain(_str(message, "text"))
    first = text.splitlines()[0] if text else ""
    params = {
        "kind": "incident",
        "summary": first[:150] or "Ticket from a Slack message",
        "description": text[:MAX_TEXT],
        "filed_by": request.reactor,
        "message_id": request.ts,
    }
    if link.startswith("https://"):
        params["link"] = link
    return Action(
        event_id=request.event_id,
        address=Address(
            channel=PLATFORM,
            workspace=request.team,
            conversation=request.channel,
            thread=_str(message, "thread_ts") or request.ts,
            user=author,
        ),
        sender=Identity(platform=PLATFORM, external_id=author),
        name="file_from_message",
        params=params,
    )
