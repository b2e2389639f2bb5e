"""Meta webhook deliveries (`object` `page` or `instagram`) to the conversation model.

Pure functions: no I/O, no clock but the delivery's own timestamps. Anything a signed body
holds either becomes events or raises `PayloadError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from channels.base import PayloadError
from channels.conversation import Action, Address, Event, Identity, Message
from channels.meta.comments import parse_changes
from channels.meta.fields import mapping as _mapping
from channels.meta.fields import millis as _millis
from channels.meta.fields import page_id as _page_id
from channels.meta.fields import text as _text
from channels.meta.verify import PLATFORM

# Which product a delivery's `object` stands for; the value is the identity platform.
PRODUCTS = {"page": "messenger", "instagram": "instagram"}
MAX_ENTRIES = 100
MAX_EVENTS = 1_000
ACTION_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
PAYLOAD_PREFIX = "sb1"
_VERSION = re.compile(r"[0-9]{0,9}")


def encode_payload(action: str, value: str, version: int | None = None) -> str:
    """What a quick reply or postback button carries: `sb1|action|version|value`."""
    return f"{PAYLOAD_PREFIX}|{action}|{version if version else ''}|{value}"


def decode_payload(data: str) -> tuple[str, str, str] | None:
    """(action, value, version) from a payload we made; None for anything else."""
    parts = data.split("|", 3)
    if len(parts) != 4 or parts[0] != PAYLOAD_PREFIX:
        return None
    _, action, version, value = parts
    if not ACTION_NAME.fullmatch(action) or not _VERSION.fullmatch(version):
        return None
    return action, value, version


def decode_body(raw: bytes) -> Mapping[str, Any]:
    """The JSON object of a webhook body, or `PayloadError`."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise PayloadError("the webhook body is not JSON", platform=PLATFORM) from e
    if not isinstance(payload, dict):
        raise PayloadError("the webhook body is not a JSON object", platform=PLATFORM)
    return payload


def parse_delivery(payload: Mapping[str, Any]) -> list[Event]:
    """Every message, button press and public comment of one webhook delivery, in order.

    Echoes of our own messages, deliveries, reads, reactions and other notifications are
    ignored (an empty list), and so are feed changes other than new comments (see
    `channels.meta.comments`); a shape Meta never sends raises `PayloadError` naming the part.
    """
    obj = payload.get("object")
    if obj is None and isinstance(payload.get("field"), str) and "value" in payload:
        # The App Dashboard's sample notification (`field`/`value`): nothing a person sent.
        return []
    if not isinstance(obj, str):
        raise PayloadError("object is missing", platform=PLATFORM)
    product = PRODUCTS.get(obj)
    if product is None:
        return []
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry must be a list", platform=PLATFORM)
    if len(entries) > MAX_ENTRIES:
        raise PayloadError("too many entries", platform=PLATFORM)
    events: list[Event] = []
    for entry in entries:
        entry = _mapping(entry, "entry[]")
        messaging = entry.get("messaging", [])
        if not isinstance(messaging, list):
            raise PayloadError("entry[].messaging must be a list", platform=PLATFORM)
        if len(events) + len(messaging) > MAX_EVENTS:
            raise PayloadError("too many messaging events", platform=PLATFORM)
        for item in messaging:
            event = parse_messaging(_mapping(item, "messaging[]"), product)
            if event is not None:
                events.append(event)
        events.extend(parse_changes(entry, product, MAX_EVENTS - len(events)))
    return events


def parse_messaging(item: Mapping[str, Any], product: str) -> Event | None:
    """One `messaging[]` item as a `Message` or `Action`, None when it is not for us."""
    message = item.get("message")
    postback = item.get("postback")
    if message is None and postback is None:
        return None
    sender = _mapping(item.get("sender"), "sender")
    recipient = _mapping(item.get("recipient"), "recipient")
    if "id" not in sender:
        # Chat-plugin guests (`user_ref`) have no page-scoped id to answer or link.
        return None
    user = _page_id(sender.get("id"), "sender.id")
    page = _page_id(recipient.get("id"), "recipient.id")
    at = _millis(item.get("timestamp"))
    address = Address(channel=product, workspace=page, conversation=user, user=user)
    who = Identity(platform=product, external_id=user)
    if message is not None:
        return _message(_mapping(message, "message"), address, who, at)
    return _postback(_mapping(postback, "postback"), address, who, at)


def _mid(value: Any, what: str) -> str:
    mid = _text(value, what).strip()
    if not mid or len(mid) > 500:
        raise PayloadError(f"{what} is missing", platform=PLATFORM)
    return mid


def _message(
    message: Mapping[str, Any], address: Address, who: Identity, at: datetime
) -> Event | None:
    if message.get("is_echo") is True or message.get("is_deleted") is True:
        return None
    mid = _mid(message.get("mid"), "message.mid")
    text = _text(message.get("text"), "message.text")
    quick = message.get("quick_reply")
    if quick is not None:
        payload = _text(_mapping(quick, "message.quick_reply").get("payload"), "payload")
        action = _action(payload, text, mid, address, who, at)
        if action is not None:
            return action
    attachments = message.get("attachments")
    urls: list[str] = []
    if attachments is not None:
        if not isinstance(attachments, list):
            raise PayloadError("message.attachments must be a list", platform=PLATFORM)
        for a in attachments[:10]:
            body = _mapping(a, "message.attachments[]").get("payload")
            url = body.get("url") if isinstance(body, dict) else None
            if isinstance(url, str) and url.startswith("https://"):
                urls.append(url[:2000])
    if not text.strip() and not urls:
        return None
    return Message(
        event_id=mid,
        address=address,
        sender=who,
        text=text,
        received_at=at,
        direct=True,
        attachments=tuple(urls),
    )


def _postback(
    postback: Mapping[str, Any], address: Address, who: Identity, at: datetime
) -> Event | None:
    payload = _text(postback.get("payload"), "postback.payload")
    title = _text(postback.get("title"), "postback.title")
    mid = postback.get("mid")
    # Before Graph API v11 a postback had no mid; the sender and time identify it then.
    event_id = (
        _mid(mid, "postback.mid")
        if mid is not None
        else f"postback:{who.external_id}:{at.timestamp():.3f}"
    )
    action = _action(payload, title, event_id, address, who, at)
    if action is not None:
        return action
    text = title or payload
    if not text.strip():
        return None
    return Message(event_id=event_id, address=address, sender=who, text=text, received_at=at)


def _action(
    payload: str, text: str, event_id: str, address: Address, who: Identity, at: datetime
) -> Action | None:
    decoded = decode_payload(payload)
    if decoded is None:
        return None
    name, value, version = decoded
    params = {"version": version} if version else {}
    return Action(
        event_id=event_id,
        address=address,
        sender=who,
        name=name,
        value=value[:200],
        params=params,
        text=text,
        received_at=at,
    )
