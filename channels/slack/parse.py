"""Slack requests as events of the conversation model: messages, clicks, submitted forms.

Pure functions of a body that `envelope.read_body` accepted; nothing here talks to Slack.
Each returns model objects or raises `PayloadError`, whatever the body holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from channels.base import PayloadError
from channels.conversation import Action, Address, Event, Identity, Message
from channels.slack.forms import form_metadata, read_note_form, read_ticket_form
from channels.slack.ids import NOTE_FORM, PLATFORM, TICKET_FORM
from channels.slack.markup import plain
from channels.slack.render import action_name, shown_version

# Message subtypes that are a person writing; everything else (edits, deletions, joins,
# other bots) is acknowledged and ignored.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


def parse(body: Mapping[str, Any], *, bot_user_id: str | None = None) -> list[Event]:
    """Whatever a request body stands for, as events (none for what we ignore).

    `FormError` (a `PayloadError`) when a submitted form must be corrected.
    """
    kind = body.get("type")
    if kind == "event_callback":
        return parse_event(body, bot_user_id=bot_user_id)
    if kind == "block_actions":
        return list(parse_click(body))
    if kind == "view_submission":
        found = parse_submission(body)
        return [found] if found is not None else []
    return []


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _dict(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _when(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def bot_ids(body: Mapping[str, Any], known: str | None = None) -> set[str]:
    """Ids under which the bot itself appears in a request."""
    found = {known} if known else set()
    for auth in _list(body.get("authorizations")):
        if (
            isinstance(auth, Mapping)
            and auth.get("is_bot")
            and isinstance(auth.get("user_id"), str)
        ):
            found.add(auth["user_id"])
    return found


def parse_event(body: Mapping[str, Any], *, bot_user_id: str | None = None) -> list[Event]:
    """An Events API delivery as events: a DM or an @mention, or an App Home visit.

    Slack's `event_id` is the event id, so a retried delivery is recognised by the inbox.
    Anything else (edits, bots, the bot itself, other event types) yields nothing.
    """
    if body.get("type") != "event_callback":
        return []
    event = body.get("event")
    event_id = body.get("event_id")
    if not isinstance(event, Mapping) or not isinstance(event_id, str) or not event_id:
        raise PayloadError("event_callback without an event or an event_id", platform=PLATFORM)
    kind = event.get("type")
    team = _str(body, "team_id") or _str(event, "team")
    user = _str(event, "user")
    ours = bot_ids(body, bot_user_id)
    if kind == "app_home_opened":
        if event.get("tab") != "home" or not user:
            return []
        address = Address(
            channel=PLATFORM, workspace=team, conversation=_str(event, "channel") or user, user=user
        )
        return [
            Action(
                event_id=event_id,
                address=address,
                sender=Identity(platform=PLATFORM, external_id=user),
                name="home",
                received_at=_when(_str(event, "event_ts")),
            )
        ]
    if kind not in ("message", "app_mention"):
        return []
    if event.get("subtype") not in _PERSON_SUBTYPES or event.get("bot_id") or user in ours:
        return []
    channel, ts = _str(event, "channel"), _str(event, "ts")
    if kind == "message" and event.get("channel_type") != "im":
        # Channel messages reach us as `app_mention` when they are meant for the bot.
        return []
    if kind == "app_mention" and channel.startswith("D"):
        # A mention inside a DM is also a `message.im` event: take that one only.
        return []
    if not user or not channel or not ts:
        return []
    raw_text = event.get("text")
    text = plain(raw_text if isinstance(raw_text, str) else "", drop=sorted(ours))
    if kind == "app_mention" and not ours:
        text = re.sub(r"^@\S+\s*", "", text)
    files = [f for f in _list(event.get("files")) if isinstance(f, Mapping)]
    attachments = tuple(_str(f, "permalink") or _str(f, "name") for f in files[:10])
    return [
        Message(
            event_id=event_id,
            address=Address(
                channel=PLATFORM,
                workspace=team,
                conversation=channel,
                thread=_str(event, "thread_ts") or ts,
                user=user,
            ),
            sender=Identity(platform=PLATFORM, external_id=user),
            text=text,
            received_at=_when(_str(event, "event_ts") or ts),
            direct=True,
            attachments=tuple(a for a in attachments if a),
        )
    ]


def _clicker(body: Mapping[str, Any]) -> tuple[str, str]:
    user = _dict(body, "user")
    user_id = _str(user, "id")
    if not user_id:
        raise PayloadError("interaction without a user", platform=PLATFORM)
    team = _str(_dict(body, "team"), "id") or _str(user, "team_id")
    return user_id, team


clicker = _clicker
"""Who clicked or submitted, and in which workspace: `(user id, team id)`."""


def parse_click(body: Mapping[str, Any]) -> list[Action]:
    """A button click (`block_actions`) as an action.

    A click on a message carries its `ts` as `message_id` (so the answer can update that
    card) and the card version from the block id as `params["version"]`. A
    click in the App Home is answered in the person's DM and refreshes their Home.
    """
    actions = [a for a in _list(body.get("actions")) if isinstance(a, Mapping)]
    if not actions:
        return []
    clicked = actions[0]
    user, team = _clicker(body)
    name = action_name(_str(clicked, "action_id"))
    if not name:
        raise PayloadError("button without an action_id", platform=PLATFORM)
    value = _str(clicked, "value") or _str(_dict(clicked, "selected_option"), "value")
    params: dict[str, str] = {}
    message_id: str | None = None
    version = shown_version(_str(clicked, "block_id"))
    if version is not None:
        params["version"] = version
    container = _dict(body, "container")
    message = _dict(body, "message")
    home = container.get("type") == "view" or _dict(body, "view").get("type") == "home"
    if container.get("type") == "message" or message:
        channel = _str(container, "channel_id") or _str(_dict(body, "channel"), "id")
        if not channel:
            raise PayloadError("message click without a channel", platform=PLATFORM)
        message_ts = _str(container, "message_ts") or _str(message, "ts")
        message_id = message_ts or None
        thread = _str(container, "thread_ts") or _str(message, "thread_ts") or None
        address = Address(
            channel=PLATFORM, workspace=team, conversation=channel, thread=thread, user=user
        )
    else:
        address = Address(channel=PLATFORM, workspace=team, conversation=user, user=user)
    trigger = _str(body, "trigger_id") or f"{user}:{_str(clicked, 'action_ts')}"
    event_id = f"click:{trigger}"
    sender = Identity(platform=PLATFORM, external_id=user)
    when = _when(_str(clicked, "action_ts"))
    out = [
        Action(
            event_id=event_id,
            address=address,
            sender=sender,
            name=name,
            value=value[:200],
            params=params,
            message_id=message_id,
            received_at=when,
        )
    ]
    if home:
        out.append(
            Action(
                event_id=event_id + ":home",
                address=address,
                sender=sender,
                name="home",
                received_at=when,
            )
        )
    return out


def parse_submission(body: Mapping[str, Any]) -> Action | None:
    """A submitted form as an action; `FormError` says what the person must correct.

    The ticket form becomes `file_ticket` (answered in the person's DM); the note form
    `add_note` about the ticket whose card it was opened from, in that card's place.
    """
    view = _dict(body, "view")
    callback = _str(view, "callback_id")
    if callback not in (TICKET_FORM, NOTE_FORM):
        return None
    user, team = _clicker(body)
    view_id = _str(view, "id")
    if not view_id:
        raise PayloadError("view_submission without a view id", platform=PLATFORM)
    sender = Identity(platform=PLATFORM, external_id=user)
    dm = Address(channel=PLATFORM, workspace=team, conversation=user, user=user)
    if callback == TICKET_FORM:
        return Action(
            event_id=f"form:{view_id}",
            address=dm,
            sender=sender,
            name="file_ticket",
            params=read_ticket_form(view),
        )
    note = read_note_form(view)
    meta = form_metadata(view)
    ref = meta.get("ref", "")
    if not ref:
        raise PayloadError("note form without a ticket reference", platform=PLATFORM)
    address = dm
    if meta.get("channel"):
        address = Address(
            channel=PLATFORM,
            workspace=team,
            conversation=meta["channel"],
            thread=meta.get("thread") or None,
            user=user,
        )
    return Action(
        event_id=f"form:{view_id}",
        address=address,
        sender=sender,
        name="add_note",
        value=ref,
        params={"note": note},
    )


def permalink(body: Mapping[str, Any]) -> str:
    """A link back to the message a shortcut was used on, built from the payload alone."""
    domain = _str(_dict(body, "team"), "domain")
    channel = _str(_dict(body, "channel"), "id")
    ts = _str(_dict(body, "message"), "ts")
    if not (domain and channel and ts) or not re.fullmatch(r"[a-z0-9-]+", domain):
        return ""
    return f"https://{domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
