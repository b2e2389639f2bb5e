"""X payloads (Account Activity bodies, v2 mentions and DM pages) to the conversation model."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.base import PayloadError
from channels.conversation import Address, Identity, Message

PLATFORM = "x"

_ID = re.compile(r"[0-9]{1,25}")
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15}[,:]?)+(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class Account:
    """The X account the bot speaks as."""

    id: str
    username: str


def snowflake(value: Any) -> str | None:
    """A platform id as a string of digits, or None (ids arrive as numbers or strings)."""
    if isinstance(value, bool):
        return None
    text = str(value) if isinstance(value, int | str) else ""
    return text if _ID.fullmatch(text) else None


def newer(a: str | None, b: str | None) -> bool:
    """True when snowflake id `a` is newer than `b` (None is older than everything)."""
    if a is None:
        return False
    return b is None or int(a) > int(b)


def _clean(text: Any) -> str:
    """Tweet text for the NLU: entities unescaped, the leading run of @handles dropped."""
    if not isinstance(text, str):
        return ""
    return _LEADING_MENTIONS.sub("", html.unescape(text), count=1).strip()


def parse_time(value: Any) -> datetime:
    """v2 ISO times, v1.1 `Mon May 19 14:01:46 +0000 2025`, or epoch milliseconds."""
    with contextlib.suppress(TypeError, ValueError, OverflowError, OSError):
        if isinstance(value, str) and value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        if isinstance(value, str) and "T" in value:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        if isinstance(value, str):
            return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    return datetime.now(UTC)


def _message(
    *, event_id: str, user: str, handle: Any, text: str, at: datetime, attachments: Sequence[str]
) -> Message:
    name = f"@{handle}" if isinstance(handle, str) and handle else None
    return Message(
        event_id=event_id,
        address=Address(channel=PLATFORM, conversation=f"dm:{user}", user=user),
        sender=Identity(platform=PLATFORM, external_id=user, display_name=name),
        text=text,
        received_at=at,
        direct=True,
        attachments=tuple(attachments),
    )


def tweet_id(message: Message) -> str | None:
    """The tweet behind a mention event (None for a direct message)."""
    kind, _, value = message.event_id.partition(":")
    return value if kind == "tweet" else None


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_items(value: Any) -> list[Mapping[str, Any]]:
    """The JSON objects in `value` when it is a list, else none."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _v1_mentions(tweet: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for source in (tweet, as_mapping(tweet.get("extended_tweet"))):
        for m in as_items(as_mapping(source.get("entities")).get("user_mentions")):
            if (uid := snowflake(m.get("id_str") or m.get("id"))) is not None:
                found.add(uid)
    return found


def _v1_tweet(tweet: Mapping[str, Any], account_id: str) -> Message | None:
    tid = snowflake(tweet.get("id_str") or tweet.get("id"))
    user = as_mapping(tweet.get("user"))
    author = snowflake(user.get("id_str") or user.get("id"))
    if tid is None or author is None or author == account_id:
        return None
    if "retweeted_status" in tweet:
        return None
    replying_to_us = snowflake(tweet.get("in_reply_to_user_id_str")) == account_id
    if account_id not in _v1_mentions(tweet) and not replying_to_us:
        return None
    extended = as_mapping(tweet.get("extended_tweet"))
    text = extended.get("full_text") if tweet.get("truncated") else tweet.get("text")
    return _message(
        event_id=f"tweet:{tid}",
        user=author,
        handle=user.get("screen_name"),
        text=_clean(text or tweet.get("text")),
        at=parse_time(tweet.get("created_at")),
        attachments=(),
    )


def _v1_direct_message(
    event: Mapping[str, Any], account_id: str, users: Mapping[str, Any]
) -> Message | None:
    if event.get("type") != "message_create":
        return None
    eid = snowflake(event.get("id"))
    create = as_mapping(event.get("message_create"))
    sender = snowflake(create.get("sender_id"))
    if eid is None or sender is None or sender == account_id:
        return None
    data = as_mapping(create.get("message_data"))
    return _message(
        event_id=f"dm:{eid}",
        user=sender,
        handle=as_mapping(users.get(sender)).get("screen_name"),
        text=html.unescape(str(data.get("text") or "")).strip(),
        at=parse_time(event.get("created_timestamp")),
        attachments=(),
    )


def parse_activity(payload: Any, *, account_id: str | None = None) -> list[Message]:
    """Mentions and direct messages in an Account Activity webhook body.

    Events of another subscribed account than `account_id` (when known), our own tweets and
    DMs, retweets, tweets that do not mention us and mentions by people the account blocked
    are left out; so are typing indicators, read receipts and deletions.
    """
    if not isinstance(payload, Mapping):
        raise PayloadError("the webhook body must be a JSON object", platform=PLATFORM)
    owner = snowflake(payload.get("for_user_id"))
    if owner is None or (account_id is not None and owner != account_id):
        return []
    events: list[Message] = []
    if str(payload.get("user_has_blocked", "false")).lower() != "true":
        for tweet in as_items(payload.get("tweet_create_events")):
            if (msg := _v1_tweet(tweet, owner)) is not None:
                events.append(msg)
    users = as_mapping(payload.get("users"))
    for event in as_items(payload.get("direct_message_events")):
        if (msg := _v1_direct_message(event, owner, users)) is not None:
            events.append(msg)
    return events


def _users(page: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    users = as_items(as_mapping(page.get("includes")).get("users"))
    return {str(u.get("id")): u for u in users}


def parse_mentions(page: Mapping[str, Any], *, account_id: str) -> list[Message]:
    """Mentions in a `GET /2/users/:id/mentions` page (our own tweets and retweets left out)."""
    if not isinstance(page, Mapping):
        raise PayloadError("a mentions page must be a JSON object", platform=PLATFORM)
    users = _users(page)
    events: list[Message] = []
    for tweet in as_items(page.get("data")):
        tid, author = snowflake(tweet.get("id")), snowflake(tweet.get("author_id"))
        if tid is None or author is None or author == account_id:
            continue
        refs = as_items(tweet.get("referenced_tweets"))
        if any(r.get("type") == "retweeted" for r in refs):
            continue
        events.append(
            _message(
                event_id=f"tweet:{tid}",
                user=author,
                handle=as_mapping(users.get(author)).get("username"),
                text=_clean(tweet.get("text")),
                at=parse_time(tweet.get("created_at")),
                attachments=(),
            )
        )
    return events


def parse_dm_events(page: Mapping[str, Any], *, account_id: str) -> list[Message]:
    """Messages people sent us in a `GET /2/dm_events` page (one-to-one conversations only)."""
    if not isinstance(page, Mapping):
        raise PayloadError("a DM events page must be a JSON object", platform=PLATFORM)
    users = _users(page)
    events: list[Message] = []
    for event in as_items(page.get("data")):
        if event.get("event_type") != "MessageCreate":
            continue
        eid, sender = snowflake(event.get("id")), snowflake(event.get("sender_id"))
        conversation = str(event.get("dm_conversation_id") or "")
        if eid is None or sender is None or sender == account_id:
            continue
        # One-to-one conversation ids are "<id>-<id>"; a group chat is not where we help.
        if sorted(conversation.split("-")) != sorted([sender, account_id]):
            continue
        events.append(
            _message(
                event_id=f"dm:{eid}",
                user=sender,
                handle=as_mapping(users.get(sender)).get("username"),
                text=html.unescape(str(event.get("text") or "")).strip(),
                at=parse_time(event.get("created_at")),
                attachments=(),
            )
        )
    return events
