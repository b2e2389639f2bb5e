"""Webhook bodies and `getUpdates` results as `Message`/`Action` events of the conversation model.

Any input ends in one of three ways: events, an update we ignore (`Parsed.ignored`), or
`PayloadError`: a body that is not JSON, or `MalformedUpdate` for JSON that is not an update
we can read (the webhook answers that one 200 and quarantines it, so Telegram does not retry
it for a day). NUL characters are dropped from every text taken into the model: PostgreSQL's
JSON refuses them, and the event is stored as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, MessageEntity, Update
from telegram import Message as TgMessage

from channels.base import PayloadError
from channels.conversation import Action, Address, Event, Identity, Message
from channels.telegram.callback_data import decode_callback
from channels.telegram.constants import PLATFORM

# A text longer than Telegram's own limit (4096, or 1024 for captions) is not Telegram's.
MAX_INBOUND_TEXT = 4096


@dataclass(frozen=True, slots=True)
class BotInfo:
    """The bot's own id and username (from `getMe`), to recognise mentions in groups."""

    id: int
    username: str


class MalformedUpdate(PayloadError):
    """JSON that is not an update we can read: answered 200 and quarantined, never retried."""

    def __init__(self, message: str) -> None:
        super().__init__(message, platform=PLATFORM)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What an update holds for us: events to ingest, a click to acknowledge, or nothing."""

    events: tuple[Event, ...] = ()
    callback_query_id: str | None = None
    ignored: str | None = None


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object of a webhook body.

    Raises:
        PayloadError: the body is not JSON at all.
        MalformedUpdate: it is JSON, but not an object.
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise PayloadError("body is not JSON", platform=PLATFORM) from e
    if not isinstance(data, dict):
        raise MalformedUpdate("an update must be a JSON object")
    return data


_USER_KEYS = frozenset({"from", "forward_from", "user", "via_bot", "sender_user"})


def with_is_bot(value: Any, key: str = "") -> Any:
    """The update's JSON with `is_bot: false` added to users that lack it."""
    # Updates from before Bot API 3.0 (still the examples in Telegram's own docs) have no
    # `is_bot`; PTB insists on it. Only bots have ever been marked, so absent means a person.
    if isinstance(value, dict):
        fixed = {k: with_is_bot(v, k) for k, v in value.items()}
        if key in _USER_KEYS and "id" in fixed and "is_bot" not in fixed:
            fixed["is_bot"] = False
        return fixed
    if isinstance(value, list):
        return [with_is_bot(v, key) for v in value]
    return value


def to_update(data: Mapping[str, Any]) -> Update:
    """A PTB `Update` from its JSON object.

    Raises:
        MalformedUpdate: PTB cannot read it (missing or mistyped fields).
    """
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedUpdate("update_id missing or not an integer")
    try:
        update = Update.de_json(with_is_bot(dict(data)), None)
    except Exception as e:  # PTB raises TypeError/KeyError/ValueError on bad shapes
        raise MalformedUpdate(f"{type(e).__name__} while reading the update") from e
    if update is None:
        raise MalformedUpdate("empty update")
    return update


def parse(update: Update, me: BotInfo | None = None) -> Parsed:
    """Normalise an update: a message for us, a button click, or an update we ignore.

    In private chats every text is for us; in groups only commands, mentions of the bot and
    replies to it are. `me` is the bot itself (None when `getMe` has not answered yet: then
    only plain commands count in groups).

    Raises:
        MalformedUpdate: a field has a type the Bot API never sends (PTB does not check).
    """
    try:
        if update.callback_query is not None:
            return _callback(update, update.callback_query)
        return _message(update, me)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as e:
        raise MalformedUpdate(f"{type(e).__name__} while normalising the update") from None


def read_update(body: bytes, me: BotInfo | None = None) -> Parsed:
    """`decode`, `to_update` and `parse` in one: what a webhook body holds.

    Raises:
        PayloadError: not JSON (`MalformedUpdate`: JSON, but not an update we can read).
    """
    return parse(to_update(decode(body)), me)


def _message(update: Update, me: BotInfo | None) -> Parsed:
    msg = update.message
    if msg is None:
        return Parsed(ignored=_kind(update))
    user = msg.from_user
    if user is None or user.is_bot is not False:
        return Parsed(ignored="not from a person")
    raw = msg.text if msg.text is not None else msg.caption
    if raw is not None and not isinstance(raw, str):
        raise TypeError("text is not a string")
    text = clean(raw or "")
    if not text.strip():
        # Stickers, voice notes, photos without a caption, service messages: nothing to read.
        return Parsed(ignored="no text")
    if len(text) > MAX_INBOUND_TEXT:
        raise ValueError("text longer than Telegram allows")
    private = msg.chat.type == "private"
    if not private:
        addressed, text = _addressed(msg, text, me)
        if not addressed:
            return Parsed(ignored="group message not for the bot")
    command = _command(text, me)
    if command is None:
        return Parsed(ignored="command for another bot")
    address = _address(msg, user.id)
    return Parsed(
        events=(
            Message(
                event_id=str(update.update_id),
                address=address,
                sender=_identity(user),
                text=command,
                received_at=_when(msg.date),
                direct=True,
                attachments=_attachments(msg),
            ),
        )
    )


def clean(text: str) -> str:
    """The text without NUL characters, which PostgreSQL's JSON cannot hold."""
    return text.replace("\x00", "")


def _id(value: Any) -> str:
    # Chat, user and thread ids are integers in the Bot API; anything else is not Telegram.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("an id is not an integer")
    return str(value)


def _kind(update: Update) -> str:
    for name in ("edited_message", "channel_post", "inline_query", "my_chat_member"):
        if getattr(update, name, None) is not None:
            return name
    return "unhandled update"


def _when(value: datetime | None) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _identity(user: Any) -> Identity:
    name = user.full_name or user.username
    name = clean(name)[:200] if isinstance(name, str) else None
    return Identity(platform=PLATFORM, external_id=_id(user.id), display_name=name or None)


def _address(msg: TgMessage, user_id: int) -> Address:
    topic = msg.is_topic_message is True and msg.message_thread_id
    thread = _id(msg.message_thread_id) if topic else None
    return Address(
        channel=PLATFORM, conversation=_id(msg.chat.id), user=_id(user_id), thread=thread
    )


def _attachments(msg: TgMessage) -> tuple[str, ...]:
    found: list[str] = []
    if msg.photo:
        found.append(msg.photo[-1].file_id)
    found += [m.file_id for m in (msg.document, msg.voice, msg.audio, msg.video) if m is not None]
    return tuple(f"telegram:file:{clean(f)}" for f in found if isinstance(f, str) and f)


def _addressed(msg: TgMessage, text: str, me: BotInfo | None) -> tuple[bool, str]:
    """Whether a group message is for the bot, and its text without the mention."""
    if text.startswith("/"):
        return True, text
    if me is None:
        return False, text
    entities = msg.parse_entities() if msg.text is not None else msg.parse_caption_entities()
    for entity, value in entities.items():
        mentioned = (
            entity.type == MessageEntity.MENTION
            and value.lstrip("@").casefold() == me.username.casefold()
        ) or (
            entity.type == MessageEntity.TEXT_MENTION
            and entity.user is not None
            and entity.user.id == me.id
        )
        if mentioned:
            return True, " ".join(text.replace(value, " ", 1).split())
    replied = msg.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True, text
    return False, text


def _command(text: str, me: BotInfo | None) -> str | None:
    """`/cmd@bot args` as `cmd args` (None when addressed to another bot)."""
    if not text.startswith("/"):
        return text
    head, _, rest = text.partition(" ")
    word, _, target = head[1:].partition("@")
    if target and me is not None and target.casefold() != me.username.casefold():
        return None
    word = word.lower()
    if word == "start":
        # Every private chat opens with /start: greet rather than puzzle the NLU.
        return "hi"
    return f"{word} {rest.strip()}".strip()


def _callback(update: Update, cq: CallbackQuery) -> Parsed:
    message = cq.message
    if not isinstance(message, TgMessage) or cq.from_user is None or cq.from_user.is_bot:
        return Parsed(callback_query_id=_text_id(cq.id), ignored="click on a message we cannot see")
    data = cq.data if isinstance(cq.data, str) else ""
    decoded = decode_callback(clean(data))
    if decoded is None:
        return Parsed(callback_query_id=_text_id(cq.id), ignored="button data not ours")
    address = _address(message, cq.from_user.id)
    sender = _identity(cq.from_user)
    event_id = str(update.update_id)
    if isinstance(decoded, int):
        # A button whose data did not fit in 64 bytes: its number picks it, as on SMS.
        event: Event = Message(event_id=event_id, address=address, sender=sender, text=str(decoded))
    else:
        name, value, version = decoded
        event = Action(
            event_id=event_id,
            address=address,
            sender=sender,
            name=name,
            value=value,
            params={"version": version} if version else {},
            message_id=_id(message.message_id),
        )
    return Parsed(events=(event,), callback_query_id=_text_id(cq.id))


def _text_id(value: Any) -> str:
    # Echoed back to Telegram in the webhook's answer: a short string, or the update is not real.
    if not isinstance(value, str) or not value or len(value) > 64 or "\x00" in value:
        raise TypeError("callback query id is not a string")
    return value
