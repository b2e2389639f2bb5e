"""Public comments on the page's Facebook posts and Instagram media, as inbound messages.

Facebook sends them as `feed` changes of the page (`item: comment`, `verb: add`), Instagram
as `comments` changes of the professional account; both arrive in `entry[].changes[]` of the
same `/meta/webhook` deliveries as direct messages. A comment becomes a `Message` whose
`event_id` is `comment:<comment id>` (the inbox's dedup key, as `tweet:<id>` is for X
mentions), in the person's one conversation with the page, so the ticket it reports is
followed privately there.

Edits, removals, likes, reactions, posts and comments without text are ignored, and so are
the page's or the account's own comments (our public acknowledgements). Facebook leaves
`from` out unless the app may read people's content (`pages_read_user_content`); such a
comment names nobody to answer and is ignored too.

The commenter's id is the id Meta shows the page for that person: for Instagram the IGSID,
the same as in direct messages; for Facebook the id of the comment's `from`, which Meta
does not promise equals the person's Messenger PSID, so someone known from a Facebook comment
and from Messenger may appear as two identities until the accounts are linked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.base import PayloadError
from channels.conversation import Address, Event, Identity, Message
from channels.meta.fields import mapping, millis, page_id, text
from channels.meta.verify import PLATFORM

COMMENT_PREFIX = "comment:"
MAX_CHANGES = 1_000
# Which surface the public comment was on, by identity platform: what the desk is told.
PLACES = {"messenger": "Facebook", "instagram": "Instagram"}
# Facebook comment ids join the post and comment ids with `_`; Instagram's are plain digits.
_COMMENT_ID = re.compile(r"[0-9]{1,32}(?:_[0-9]{1,32}){0,2}")
_NAME_LIMIT = 200


def comment_id(event: Event) -> str | None:
    """The public comment behind an event (None for a direct message or a button press)."""
    if not isinstance(event, Message):
        return None
    if not event.event_id.startswith(COMMENT_PREFIX):
        return None
    return event.event_id.removeprefix(COMMENT_PREFIX)


def public_place(event: Event) -> str | None:
    """Where a public comment was made: "Facebook" or "Instagram"; None for anything else."""
    if comment_id(event) is None:
        return None
    return PLACES.get(event.address.channel)


def parse_changes(entry: Mapping[str, Any], product: str, room: int) -> list[Event]:
    """The comments in one `entry[].changes[]`; at most `room` changes are accepted."""
    changes = entry.get("changes", [])
    if not isinstance(changes, list):
        raise PayloadError("entry[].changes must be a list", platform=PLATFORM)
    if not changes:
        return []
    if len(changes) > min(room, MAX_CHANGES):
        raise PayloadError("too many changes", platform=PLATFORM)
    owner = page_id(entry.get("id"), "entry.id")
    sent_at = entry.get("time")
    events: list[Event] = []
    for change in changes:
        change = mapping(change, "changes[]")
        field = change.get("field")
        if product == "messenger" and field == "feed":
            found = _feed_comment(mapping(change.get("value"), "changes[].value"), owner, sent_at)
        elif product == "instagram" and field == "comments":
            found = _ig_comment(mapping(change.get("value"), "changes[].value"), owner, sent_at)
        else:
            found = None
        if found is not None:
            events.append(found)
    return events


def _comment(value: Any, what: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not _COMMENT_ID.fullmatch(value):
        raise PayloadError(f"{what} is not a comment id", platform=PLATFORM)
    return value


def _created(value: Any, sent_at: Any) -> datetime:
    """When the comment was made: `created_time` (seconds or ISO 8601), else the entry's time."""
    if isinstance(value, str) and not value.isdigit():
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        value = None
    if value is None:
        if sent_at is None:
            raise PayloadError("the comment has no time", platform=PLATFORM)
        return millis(sent_at)
    return millis(value)


def _message(
    *, product: str, owner: str, user: str, cid: str, said: str, name: str | None, at: datetime
) -> Message:
    return Message(
        event_id=COMMENT_PREFIX + cid,
        address=Address(channel=product, workspace=owner, conversation=user, user=user),
        sender=Identity(platform=product, external_id=user, display_name=name),
        text=said,
        received_at=at,
        direct=True,
    )


def _feed_comment(value: Mapping[str, Any], owner: str, sent_at: Any) -> Message | None:
    if value.get("item") != "comment" or value.get("verb") != "add":
        return None
    sender = value.get("from")
    if sender is None:
        return None
    sender = mapping(sender, "from")
    user = page_id(sender.get("id"), "from.id")
    if user == owner:
        return None
    said = text(value.get("message"), "message")
    if not said.strip():
        return None
    name = text(sender.get("name"), "from.name")[:_NAME_LIMIT] or None
    return _message(
        product="messenger",
        owner=owner,
        user=user,
        cid=_comment(value.get("comment_id"), "comment_id"),
        said=said,
        name=name,
        at=_created(value.get("created_time"), sent_at),
    )


def _ig_comment(value: Mapping[str, Any], owner: str, sent_at: Any) -> Message | None:
    sender = mapping(value.get("from"), "from")
    user = page_id(sender.get("id"), "from.id")
    if user == owner:
        return None
    said = text(value.get("text"), "text")
    if not said.strip():
        return None
    username = text(sender.get("username"), "from.username")[:_NAME_LIMIT]
    return _message(
        product="instagram",
        owner=owner,
        user=user,
        cid=_comment(value.get("id"), "id"),
        said=said,
        name=f"@{username}" if username else None,
        at=_created(None, sent_at),
    )
