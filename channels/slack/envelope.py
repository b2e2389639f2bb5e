"""A signed request body, read once and checked for the shape Slack gives it.

Events come as JSON, slash commands as a form, interactivity as a form whose `payload`
field is JSON. What passes `read_body` is a dict that bolt can build its context from and
match listeners against without tripping over a list where it expects an object; anything
else is a `PayloadError` (HTTP 400), so a signed but malformed body never becomes a 500.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from channels.base import PayloadError
from channels.slack.ids import PLATFORM

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted; Slack's payloads stay far below."""

# Keys bolt's context extraction reads from the body and from nested objects in it
# (`event`, `message`, `item`, an authorization ...): an object or an id, never a list.
_ID_OR_OBJECT = ("user", "channel", "team", "enterprise")
# Top-level keys of a fixed type when present.
_TOP: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "event": (dict,),
    "event_id": (str,),
    "authorizations": (list,),
    "actions": (list,),
    "view": (dict,),
    "container": (dict,),
    "message": (dict,),
    "response_urls": (list,),
    "callback_id": (str,),
    "trigger_id": (str,),
    "command": (str,),
    "challenge": (str,),
}


def read_body(raw: bytes, content_type: str) -> dict[str, Any]:
    """The request body as a dict, checked (`PayloadError` when it is not a Slack request)."""
    try:
        text = raw.decode("utf-8")
        if content_type.startswith("application/json") or text.startswith("{"):
            body: Any = json.loads(text)
        else:
            fields = dict(parse_qsl(text, keep_blank_values=True))
            body = json.loads(fields["payload"]) if "payload" in fields else fields
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise PayloadError(f"unreadable body: {type(e).__name__}", platform=PLATFORM) from e
    check(body)
    return body  # type: ignore[no-any-return]


def check(body: Any) -> None:
    """Refuse (`PayloadError`) a body that is not shaped like a Slack request.

    Well-formed requests of a kind we do not handle pass: they are acknowledged and ignored.
    """
    if not isinstance(body, dict):
        raise PayloadError("the body is not an object", platform=PLATFORM)
    _walk(body, 0)
    for key, types in _TOP.items():
        if key in body and not isinstance(body[key], types):
            raise PayloadError(f"`{key}` has the wrong type", platform=PLATFORM)
    for key in ("actions", "authorizations", "response_urls"):
        if any(not isinstance(x, dict) for x in body.get(key) or ()):
            raise PayloadError(f"`{key}` must hold objects", platform=PLATFORM)
    kind = body.get("type")
    if kind is None:
        if "command" not in body and "ssl_check" not in body:
            raise PayloadError("a request without a `type`", platform=PLATFORM)
        return
    need = _REQUIRED.get(kind)
    if need is not None:
        need(body)


def _walk(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise PayloadError("nested too deeply", platform=PLATFORM)
    if isinstance(value, dict):
        for key in _ID_OR_OBJECT:
            if key in value and not isinstance(value[key], dict | str | None):
                raise PayloadError(f"`{key}` must be an object or an id", platform=PLATFORM)
        for item in value.values():
            if isinstance(item, dict | list):
                _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict | list):
                _walk(item, depth + 1)


def _string(data: Mapping[str, Any], key: str, what: str) -> None:
    if not isinstance(data.get(key), str) or not data[key]:
        raise PayloadError(f"{what} without `{key}`", platform=PLATFORM)


def _event(body: Mapping[str, Any]) -> None:
    event = body.get("event")
    if not isinstance(event, dict):
        raise PayloadError("event_callback without an event", platform=PLATFORM)
    _string(event, "type", "an event")
    _string(body, "event_id", "event_callback")


def _actions(body: Mapping[str, Any]) -> None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise PayloadError(f"{body.get('type')} without actions", platform=PLATFORM)
    for action in actions:
        _string(action, "action_id", "an action")
        if not isinstance(action.get("block_id", ""), str):
            raise PayloadError("`block_id` has the wrong type", platform=PLATFORM)


def _legacy_actions(body: Mapping[str, Any]) -> None:
    # bolt reads the first of them as soon as there is a callback_id.
    if "callback_id" in body:
        actions = body.get("actions")
        if not isinstance(actions, list) or not actions:
            raise PayloadError(f"{body.get('type')} without actions", platform=PLATFORM)


def _view(body: Mapping[str, Any]) -> None:
    view = body.get("view")
    if not isinstance(view, dict):
        raise PayloadError(f"{body.get('type')} without a view", platform=PLATFORM)
    _string(view, "callback_id", "a view")
    _string(view, "type", "a view")
    if view["type"] == "workflow_step":
        _step(body)


def _step(body: Mapping[str, Any]) -> None:
    if not isinstance(body.get("workflow_step"), dict):
        raise PayloadError("a workflow step without `workflow_step`", platform=PLATFORM)


def _step_edit(body: Mapping[str, Any]) -> None:
    if "callback_id" in body:
        _step(body)


def _shortcut(body: Mapping[str, Any]) -> None:
    _string(body, "callback_id", "a shortcut")


def _challenge(body: Mapping[str, Any]) -> None:
    _string(body, "challenge", "url_verification")


_REQUIRED = {
    "event_callback": _event,
    "block_actions": _actions,
    "interactive_message": _legacy_actions,
    "workflow_step_edit": _step_edit,
    "view_submission": _view,
    "view_closed": _view,
    "shortcut": _shortcut,
    "message_action": _shortcut,
    "url_verification": _challenge,
}
